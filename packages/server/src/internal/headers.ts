/** The headers every response of the server carries. */

/** No MIME sniffing, no referrer, no framing. */
export const securityHeaders: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

/**
 * Data rights over HTTP (see `docs/data-rights.md`): export everything held about an end user or a tenant as the
 * archive (JSON lines, `application/x-ndjson`), and erase it. Both need the `admin` scope; a caller bound to a
 * tenant (foundation's `Tenant` in the request's context) reaches only its own tenant.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { BadRequest, Forbidden, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"

/**
 * Whose data: an end-user key (`subject`), a tenant, or both.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Selector = Schema.Struct({
  subject: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512))),
  tenant: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)))
})

/**
 * What an erasure removed, per source (no content).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Report = Schema.Struct({
  counts: Schema.Record({ key: Schema.String, value: Schema.Number }),
  total: Schema.Number,
  at: Schema.Number
})

/**
 * The data-rights group.
 *
 * @since 0.1.0
 * @category groups
 */
export class DataRightsApi extends HttpApiGroup.make("dataRights")
  .add(
    HttpApiEndpoint.post("export", "/data/export")
      .setPayload(Selector)
      .addSuccess(HttpApiSchema.Text({ contentType: "application/x-ndjson" }))
  )
  .add(HttpApiEndpoint.post("erase", "/data/erase").setPayload(Selector).addSuccess(Report))
  .addError(BadRequest)
  .addError(Forbidden)
  .addError(Unavailable)
  .middleware(Authentication) {}

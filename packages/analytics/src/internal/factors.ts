/**
 * How much wider than the one-step interval the h-step interval is, per model (the ratio of the h-step to the
 * one-step forecast-error standard deviation under the model's own assumptions).
 */

/** Simple exponential smoothing (local level): sqrt(1 + (h-1)·alpha²). */
export const ewma = (alpha: number, h: number): number => Math.sqrt(1 + (h - 1) * alpha * alpha)

/** Holt's linear method (local linear trend): sqrt(1 + sum over j < h of alpha²(1 + j·beta)²). */
export const holt = (alpha: number, beta: number, h: number): number => {
  let v = 1
  for (let j = 1; j < h; j++) {
    const c = alpha * (1 + j * beta)
    v += c * c
  }
  return Math.sqrt(v)
}

/** Additive Holt-Winters: Holt's factor plus gamma·(1-alpha) at the seasonal lags. */
export const holtWinters = (alpha: number, beta: number, gamma: number, m: number, h: number): number => {
  let v = 1
  for (let j = 1; j < h; j++) {
    const c = alpha * (1 + j * beta) + (j % m === 0 ? gamma * (1 - alpha) : 0)
    v += c * c
  }
  return Math.sqrt(v)
}

/** The naive forecast (random walk): sqrt(h). */
export const naive = (h: number): number => Math.sqrt(h)

/**
 * A least-squares line over `c` points at positions 0..c-1: the prediction standard error at position
 * c-1+h relative to the one at c (sqrt(1 + 1/c + (x - mean)²/Sxx) ratio).
 */
export const linear = (c: number, h: number): number => {
  if (c < 3) return Math.sqrt(h)
  const mean = (c - 1) / 2
  const sxx = ((c - 1) * c * (c + 1)) / 12
  const at = (x: number) => 1 + 1 / c + ((x - mean) * (x - mean)) / sxx
  return Math.sqrt(at(c - 1 + h) / at(c))
}

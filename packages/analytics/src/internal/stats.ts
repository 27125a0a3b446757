/**
 * Small numeric helpers: the normal quantile, the Student t distribution (through the regularized incomplete
 * beta function), and sorted-array insertion for windowed medians.
 */

/** The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export const normalQuantile = (p: number): number => {
  if (p <= 0) return Number.NEGATIVE_INFINITY
  if (p >= 1) return Number.POSITIVE_INFINITY
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239
  ]
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783
  ]
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
  const low = 0.02425
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p))
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    )
  }
  if (p > 1 - low) return -normalQuantile(1 - p)
  const q = p - 0.5
  const r = q * q
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  )
}

/** ln Γ(x) for x > 0 (Lanczos). */
export const logGamma = (x: number): number => {
  const g = [
    76.18009172947146, -86.50532032941678, 24.01409824083091, -1.231739572450155, 0.001208650973866179,
    -0.5395239384953e-5
  ]
  let y = x
  const tmp = x + 5.5 - (x + 0.5) * Math.log(x + 5.5)
  let ser = 1.000000000190015
  for (let j = 0; j < 6; j++) ser += g[j]! / ++y
  return -tmp + Math.log((2.5066282746310007 * ser) / x)
}

const betaContinuedFraction = (a: number, b: number, x: number): number => {
  const tiny = 1e-300
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let h = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 3e-16) break
  }
  return h
}

/** The regularized incomplete beta function I_x(a, b). */
export const incompleteBeta = (x: number, a: number, b: number): number => {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b
}

/** The two-sided p-value of a Student t statistic with `df` degrees of freedom. */
export const studentTwoSidedP = (t: number, df: number): number => {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? Number.NaN : 0
  if (df <= 0) return Number.NaN
  return incompleteBeta(df / (df + t * t), df / 2, 0.5)
}

/** Inserts `x` into the ascending `sorted[0..n)` (n < sorted.length) and returns the new length. */
export const sortedInsert = (sorted: Float64Array, n: number, x: number): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < x) lo = mid + 1
    else hi = mid
  }
  sorted.copyWithin(lo + 1, lo, n)
  sorted[lo] = x
  return n + 1
}

/** Removes one occurrence of `x` from the ascending `sorted[0..n)` and returns the new length. */
export const sortedRemove = (sorted: Float64Array, n: number, x: number): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < x) lo = mid + 1
    else hi = mid
  }
  if (lo >= n || sorted[lo] !== x) return n
  sorted.copyWithin(lo, lo + 1, n)
  return n - 1
}

/** The median of the ascending `sorted[0..n)`. */
export const sortedMedian = (sorted: Float64Array, n: number): number => {
  if (n === 0) return Number.NaN
  const h = n >> 1
  return n % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2
}

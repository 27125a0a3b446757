import { InvalidOptions, InvalidSeries } from "../AnalyticsError.js"

/** A number in (0, 1] (a smoothing factor), else InvalidOptions. */
export const unitInterval = (module: string, option: string, value: number, closedAtZero = false): number => {
  const ok = Number.isFinite(value) && value <= 1 && (closedAtZero ? value >= 0 : value > 0)
  if (!ok) {
    throw new InvalidOptions({
      module,
      option,
      value,
      message: `${module}: ${option} must be a number in ${closedAtZero ? "[0, 1]" : "(0, 1]"}, got ${String(value)}`
    })
  }
  return value
}

/** An integer >= min, else InvalidOptions. */
export const integerAtLeast = (module: string, option: string, value: number, min: number): number => {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidOptions({
      module,
      option,
      value,
      message: `${module}: ${option} must be an integer >= ${min}, got ${String(value)}`
    })
  }
  return value
}

/** A finite number > 0, else InvalidOptions. */
export const positive = (module: string, option: string, value: number): number => {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new InvalidOptions({
      module,
      option,
      value,
      message: `${module}: ${option} must be a finite number > 0, got ${String(value)}`
    })
  }
  return value
}

/** A confidence level in (0, 1), else InvalidOptions. */
export const confidence = (module: string, value: number): number => {
  if (!(Number.isFinite(value) && value > 0 && value < 1)) {
    throw new InvalidOptions({
      module,
      option: "confidence",
      value,
      message: `${module}: confidence must be in (0, 1) (0.95 for 95% intervals), got ${String(value)}`
    })
  }
  return value
}

/** A forecast horizon (an integer >= 1), else InvalidOptions. */
export const horizon = (module: string, h: number): number => integerAtLeast(module, "horizon", h, 1)

/** Every value of a batch series finite, else InvalidSeries naming the first bad index. */
export const series = (module: string, values: ArrayLike<number>): ArrayLike<number> => {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new InvalidSeries({
        module,
        index: i,
        value: v,
        message: `${module}: the series has a non-finite value at index ${i} (${String(v)}); remove or impute it`
      })
    }
  }
  return values
}

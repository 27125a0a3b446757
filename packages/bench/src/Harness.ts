/**
 * The benchmark harness: every figure is printed as one JSON line
 * `{"bench","metric","value","unit","baseline","ratio","target"}` so that docs/benchmarks.md can be made
 * from the output. Baselines and peers are measured in the same run and reported as ratios.
 *
 * @since 0.1.0
 */

/**
 * One reported figure. `baseline` is the same metric for the baseline or peer measured in this run;
 * `ratio` = value / baseline; `target` says what the figure must meet (e.g. `"<= 20 us"`, `">= 0.8x"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Figure {
  readonly bench: string
  readonly metric: string
  readonly value: number
  readonly unit: string
  readonly baseline?: number | null
  readonly ratio?: number | null
  readonly target?: string | null
  /** For a mean: the standard deviation of the samples and their number. */
  readonly sd?: number
  readonly n?: number
}

/**
 * A benchmark: a name (the file name under `src/benches/`) and a run that reports figures.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bench {
  readonly name: string
  readonly description: string
  readonly run: (report: (figure: Figure) => void) => Promise<void>
}

/**
 * Prints a figure as one JSON line on stdout, with the ratio computed when a baseline is given.
 *
 * @since 0.1.0
 * @category reporting
 */
export const print = (figure: Figure): void => {
  const baseline = figure.baseline ?? null
  const ratio = figure.ratio ?? (baseline !== null && baseline !== 0 ? round(figure.value / baseline, 3) : null)
  process.stdout.write(
    `${JSON.stringify({
      bench: figure.bench,
      metric: figure.metric,
      value: round(figure.value, 3),
      unit: figure.unit,
      baseline: baseline === null ? null : round(baseline, 3),
      ratio,
      target: figure.target ?? null,
      ...(figure.sd === undefined ? {} : { sd: round(figure.sd, 3) }),
      ...(figure.n === undefined ? {} : { n: figure.n })
    })}\n`
  )
}

/**
 * Rounds to the given number of decimals.
 *
 * @since 0.1.0
 * @category utils
 */
export const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals
  return Math.round(x * f) / f
}

/**
 * The q-quantile (0..1) of the samples (nearest rank).
 *
 * @since 0.1.0
 * @category statistics
 */
export const quantile = (samples: ReadonlyArray<number>, q: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

/**
 * The current time in microseconds, from the high-resolution clock.
 *
 * @since 0.1.0
 * @category timing
 */
export const nowUs = (): number => Number(process.hrtime.bigint()) / 1000

/**
 * Runs `gc()` when node runs with `--expose-gc` (the bench script does), so heap figures are steady.
 *
 * @since 0.1.0
 * @category memory
 */
export const collectGarbage = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    gc()
  }
}

/**
 * Heap in use, in bytes, after a full collection.
 *
 * @since 0.1.0
 * @category memory
 */
export const heapUsed = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/**
 * Times `iterations` sequential runs of an async operation after `warmup` runs; returns per-run samples in
 * microseconds.
 *
 * @since 0.1.0
 * @category timing
 */
export const sampleAsync = async (
  operation: () => Promise<unknown>,
  options: { readonly iterations: number; readonly warmup?: number }
): Promise<Array<number>> => {
  for (let i = 0; i < (options.warmup ?? Math.min(1000, options.iterations)); i++) await operation()
  const samples = new Array<number>(options.iterations)
  for (let i = 0; i < options.iterations; i++) {
    const start = nowUs()
    await operation()
    samples[i] = nowUs() - start
  }
  return samples
}

/**
 * Runs an async operation repeatedly for about `durationMs` (after a warm-up) and returns operations per
 * second.
 *
 * @since 0.1.0
 * @category timing
 */
export const throughput = async (
  operation: () => Promise<unknown>,
  options: { readonly durationMs: number; readonly batch?: number }
): Promise<number> => {
  const batch = options.batch ?? 1000
  for (let i = 0; i < batch; i++) await operation()
  const start = nowUs()
  let count = 0
  while (nowUs() - start < options.durationMs * 1000) {
    for (let i = 0; i < batch; i++) await operation()
    count += batch
  }
  return count / ((nowUs() - start) / 1e6)
}

/**
 * Per-operation times in microseconds of a synchronous operation: `samples` batches of `batch` operations, each
 * batch timed together and divided (so the timer's own cost does not dominate), after `warmup` runs.
 *
 * @since 0.1.0
 * @category timing
 */
export const sampleSync = (
  operation: (i: number) => unknown,
  options: { readonly samples: number; readonly batch?: number; readonly warmup?: number }
): Array<number> => {
  const batch = options.batch ?? 100
  for (let i = 0; i < (options.warmup ?? 10_000); i++) operation(i)
  const out = new Array<number>(options.samples)
  for (let s = 0; s < options.samples; s++) {
    const start = nowUs()
    for (let i = 0; i < batch; i++) operation(i)
    out[s] = (nowUs() - start) / batch
  }
  return out
}

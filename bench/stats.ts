/** Small statistics helpers and a bounded concurrency pool. */

/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
  };
}

/**
 * Runs `task(i)` for i in [0, count) with at most `concurrency` in flight.
 * @returns each task's latency in ms and the errors (by message)
 */
export async function runPool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<{ latencies: number[]; errors: Map<string, number>; durationMs: number }> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  async function lane(): Promise<void> {
    for (;;) {
      const index = next++;
      if (index >= count) return;
      const t0 = performance.now();
      try {
        await task(index);
        latencies.push(performance.now() - t0);
      } catch (err) {
        const key = err instanceof Error ? err.message.slice(0, 120) : String(err);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return { latencies, errors, durationMs: performance.now() - started };
}

/** A ratio as the reports give it: three decimals. */
export const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;

/** Items per second over `durationMs`, to one decimal. */
export const perSecond = (items: number, durationMs: number): number =>
  Math.round((items / (durationMs / 1000)) * 10) / 10;

/** What a {@link runPool} run gives a report: how many succeeded, what failed, how fast. */
export interface PoolFigures {
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  durationMs: number;
  /** Tasks that succeeded, per second over the run. */
  throughput: number;
  latencyMs: LatencySummary;
}

export function poolFigures(run: Awaited<ReturnType<typeof runPool>>): PoolFigures {
  return {
    ok: run.latencies.length,
    errors: [...run.errors.values()].reduce((a, b) => a + b, 0),
    errorKinds: Object.fromEntries(run.errors),
    durationMs: Math.round(run.durationMs),
    throughput: perSecond(run.latencies.length, run.durationMs),
    latencyMs: summarize(run.latencies),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Least-squares line through the points: milliseconds per event and at zero events. */
export function fitLine(points: readonly { x: number; y: number }[]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const slope = sxx === 0 ? Number.NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/**
 * `count` picks from `items`, spread evenly: each item once (in a random order) before any is
 * picked again, so no item is picked more than ⌈count / items.length⌉ times.
 * @param random a number in [0, 1) per call
 */
export function spreadPicks<T>(items: readonly T[], count: number, random: () => number = Math.random): T[] {
  if (items.length === 0) return [];
  const order = Array.from({ length: items.length }, (_, i) => i);
  const picks: T[] = [];
  for (let k = 0; k < count; k += 1) {
    const j = k % items.length;
    if (k < items.length) {
      // Partial Fisher–Yates: position j gets a random one of the items not yet placed.
      const r = j + Math.floor(random() * (items.length - j));
      [order[j], order[r]] = [order[r]!, order[j]!];
    }
    picks.push(items[order[j]!]!);
  }
  return picks;
}

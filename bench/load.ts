/** autocannon with every response's latency kept, so any percentile (p95 too) can be read. */
import autocannon from 'autocannon';

/**
 * Runs autocannon to completion. A run of `amount` requests ends at its last response:
 * autocannon's own callback waits for its next one-second tick, up to a second later, which would
 * count idle time into the load's rate.
 * @returns its result, the latency (ms) of every response, when each arrived (ms after the start,
 *   in order) and the load's duration (the last arrival; the callback's time when none arrived)
 */
export function runAutocannon(options: autocannon.Options): Promise<{
  result: autocannon.Result;
  latencies: number[];
  arrivalsMs: number[];
  durationMs: number;
}> {
  const latencies: number[] = [];
  const arrivalsMs: number[] = [];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else
        resolve({
          result,
          latencies,
          arrivalsMs,
          durationMs: arrivalsMs.at(-1) ?? performance.now() - started,
        });
    });
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
      arrivalsMs.push(performance.now() - started);
    });
  });
}

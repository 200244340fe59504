/** autocannon with every response's latency kept, so any percentile (p95 too) can be read. */
import autocannon from 'autocannon';

/**
 * Runs autocannon to completion.
 * @returns its result and the latency (ms) of every response
 */
export function runAutocannon(
  options: autocannon.Options,
): Promise<{ result: autocannon.Result; latencies: number[]; durationMs: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ result, latencies, durationMs: performance.now() - started });
    });
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
    });
  });
}

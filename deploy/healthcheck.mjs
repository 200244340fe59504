// Container health check without curl: exits 0 when the URL answers 2xx within the timeout.
// Usage: node deploy/healthcheck.mjs <url> [timeoutMs]
/* global process, fetch, AbortSignal */
const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: healthcheck.mjs <url> [timeoutMs]\n');
  process.exit(2);
}
const timeoutMs = Number(timeoutArg ?? 4000);
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) process.stderr.write(`${url}: HTTP ${res.status}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

/**
 * `npm run fuzz:schemathesis`: runs schemathesis (from PyPI) against the engine's own
 * `/openapi.json` on a stack of its own (Temporal dev server in memory, the QFPay emulator, the
 * worker and the API, as the benchmark starts them), with a fixed seed, and counts what it sent
 * and how many answers were 5xx. schemathesis is installed once into a virtualenv in the
 * provisioning cache (`~/.cache/qfpay-engine/schemathesis-<version>`), never into the repository.
 *
 *   npm run fuzz:schemathesis [-- --max-examples 100 --seed 20261128]
 *
 * Exit status: 0 when schemathesis found nothing and no answer was a 5xx.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BENCH_API_KEY, startBenchStack } from '../bench/stack';
import { cacheDir } from '../src/dev/temporal-binaries';

export const SCHEMATHESIS_VERSION = '4.32.5';
const DEFAULT_SEED = 20261128;
const REPORT_DIR = resolve(__dirname, '..', '.cache', 'schemathesis');

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** The schemathesis executable, installing it into the cache first when it is not there. */
export function ensureSchemathesis(log: (line: string) => void): string {
  const venv = join(cacheDir(), `schemathesis-${SCHEMATHESIS_VERSION}`);
  const bin = join(venv, 'bin', 'schemathesis');
  const done = join(venv, '.installed');
  if (existsSync(done)) return bin;
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${venv} (once)`);
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(cacheDir(), { recursive: true });
  for (const [command, args] of [
    ['python3', ['-m', 'venv', venv]],
    [
      join(venv, 'bin', 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`],
    ],
  ] as const) {
    const result = spawnSync(command, [...args], { stdio: 'inherit' });
    if (result.status !== 0)
      throw new Error(`${command} ${args.join(' ')} failed (needs Python >= 3.9 with venv and PyPI)`);
  }
  writeFileSync(done, `${SCHEMATHESIS_VERSION}\n`);
  return bin;
}

interface HarEntry {
  request: { method: string; url: string };
  response: { status: number };
}

async function main(): Promise<void> {
  const log = (line: string) => process.stdout.write(`schemathesis | ${line}\n`);
  const maxExamples = argument('--max-examples', 100);
  const seed = argument('--seed', DEFAULT_SEED);
  const bin = ensureSchemathesis(log);
  log('starting the engine (Temporal dev server, emulator, worker, API)');
  const stack = await startBenchStack({ db: 'memory' });
  mkdirSync(REPORT_DIR, { recursive: true });
  const har = join(REPORT_DIR, 'run.har');
  rmSync(har, { force: true });
  let status: number | null;
  try {
    log(`running against ${stack.apiUrl}/openapi.json (seed ${seed}, ${maxExamples} examples per operation)`);
    // Asynchronously: the QFPay emulator runs in this process and must keep answering.
    const child = spawn(
      bin,
      [
        'run',
        `${stack.apiUrl}/openapi.json`,
        '--url',
        stack.apiUrl,
        '--header',
        `Authorization: Bearer ${BENCH_API_KEY}`,
        '--seed',
        String(seed),
        '--max-examples',
        String(maxExamples),
        '--checks',
        'not_a_server_error',
        '--workers',
        '1',
        // Longer than the API's own wait for a creation (20 s), which then answers for itself.
        '--request-timeout',
        '30',
        '--report',
        'har',
        '--report-har-path',
        har,
      ],
      // Its working directory takes schemathesis's own cache, inside the ignored .cache/.
      { stdio: 'inherit', cwd: REPORT_DIR },
    );
    status = await new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  } finally {
    await stack.close();
  }
  const entries = (JSON.parse(readFileSync(har, 'utf8')) as { log: { entries: HarEntry[] } }).log.entries;
  const byStatus = new Map<number, number>();
  for (const e of entries) byStatus.set(e.response.status, (byStatus.get(e.response.status) ?? 0) + 1);
  const serverErrors = entries.filter((e) => e.response.status >= 500);
  const operations = new Set(
    entries.map(
      (e) =>
        `${e.request.method} ${new URL(e.request.url).pathname.replace(/\/(sub|cust|prod|tk)_[^/]*/g, '/{id}')}`,
    ),
  );
  const summary = {
    schemathesis: SCHEMATHESIS_VERSION,
    seed,
    maxExamples,
    requests: entries.length,
    serverErrors: serverErrors.length,
    statuses: Object.fromEntries([...byStatus].sort(([a], [b]) => a - b)),
    distinctPaths: operations.size,
  };
  writeFileSync(join(REPORT_DIR, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  log(
    `${summary.requests} requests, ${summary.serverErrors} answered 5xx; statuses ${JSON.stringify(summary.statuses)}`,
  );
  for (const e of serverErrors.slice(0, 20))
    log(`5xx: ${e.request.method} ${e.request.url} → ${e.response.status}`);
  log(`report: ${har}, ${join(REPORT_DIR, 'summary.json')}`);
  process.exit(status === 0 && serverErrors.length === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz:schemathesis failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

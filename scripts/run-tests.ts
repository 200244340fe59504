/**
 * The test command (`npm test`): bundles the workflow code once for the whole run, checks that
 * the Temporal binaries can be found, then runs every test file with Node's test runner, each file
 * in a process tree of its own.
 *
 *   npm test                       all tests but the cluster and real-time tiers
 *   npm test -- --only unit        one folder of test/ (unit, workflow, integration, e2e, cluster,
 *                                  realtime);
 *                                  `integration` includes the gateways' own tests (in src/gateways)
 *   npm test -- test/unit/x.test.ts  given files
 *
 * A suite that always ends: every file has a limit (`TEST_FILE_TIMEOUT_MS`). Node's runner fails a
 * file that passes it; if the file's process still does not end (the Temporal runtime treats
 * SIGTERM as "shut down gracefully" and may wait for ever), this runner stops the file's whole
 * process tree a little later, including any Java test server, dev server or emulator it started,
 * reports the file as failed and goes on. Whatever a finished file left running is stopped too,
 * and so is everything of every file when the runner itself is interrupted (SIGINT, SIGTERM).
 *
 * The cluster tier (test/cluster/, `npm run test:cluster`) runs the production topology of
 * `npm run cluster`; it runs on its own, after `npm test` in CI, so that it has the machine. The
 * real-time tier (test/realtime/, `npm run test:realtime`) runs what can only be shown in real
 * time, on minute-long plans: it waits more than it works, and runs on its own in CI too.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { PROCESS_TAG_VARIABLE, stopRun } from '../src/dev/process-tree';
import { findTemporalCli, findTestServer } from '../src/dev/temporal-binaries';
import { writeWorkflowBundle } from '../src/dev/workflow-bundle';

const root = resolve(__dirname, '..');

/** Folders under test/ that `npm test` leaves out unless asked for with `--only`. */
const SEPARATE_TIERS = new Set([join(root, 'test', 'cluster'), join(root, 'test', 'realtime')]);

/** How long after its limit a file's process gets to end by itself before its tree is stopped. */
const STOP_GRACE_MS = Number(process.env.TEST_STOP_GRACE_MS ?? 30_000);

/** The counters Node's spec reporter prints at the end of a file, summed for the run. */
const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'] as const;
type Counts = Record<(typeof COUNTERS)[number], number>;

function testFiles(dir: string, top = dir): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory())
        return name === 'helpers' || name === 'fixtures' || (SEPARATE_TIERS.has(path) && path !== top)
          ? []
          : testFiles(path, top);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

interface FileResult {
  file: string;
  status: 'passed' | 'failed' | 'stopped';
  ms: number;
  counts: Counts | undefined;
  /** Processes stopped after the file's process ended (or was stopped). */
  leftovers: { pid: number; command: string }[];
}

/** The counters of a spec reporter's summary, if it printed one. */
export function parseCounts(output: string): Counts | undefined {
  const counts: Partial<Counts> = {};
  for (const name of COUNTERS) {
    const match = new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(output);
    if (match) counts[name] = Number(match[1]);
  }
  return COUNTERS.every((name) => counts[name] !== undefined) ? (counts as Counts) : undefined;
}

/** Runs one file in a process tree of its own; its output is printed whole when it ends. */
async function runFile(
  file: string,
  options: { env: NodeJS.ProcessEnv; limitMs: number; tag: string },
): Promise<FileResult> {
  const started = Date.now();
  const name = relative(root, file);
  console.log(`▷ ${name}`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${options.limitMs}`, file],
    {
      cwd: root,
      env: { ...options.env, [PROCESS_TAG_VARIABLE]: options.tag },
      // A process group (and session) of its own: a stop reaches everything it started.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => {
    child.once('exit', (code) => done(code));
    child.once('error', (err) => {
      output += `\ncannot run node: ${err.message}\n`;
      done(1);
    });
  });
  // Node's runner fails the file at its limit; the hard stop comes a grace period after that.
  let stopped = false;
  const hardLimit = setTimeout(() => {
    stopped = true;
    void stopRun({ tag: options.tag, roots: child.pid === undefined ? [] : [child.pid] });
  }, options.limitMs + STOP_GRACE_MS);
  const code = await exited;
  clearTimeout(hardLimit);
  // Whatever the file left running (a server a failed test never stopped) goes now.
  const leftovers = await stopRun({ tag: options.tag, roots: child.pid === undefined ? [] : [child.pid] });
  const ms = Date.now() - started;
  const counts = parseCounts(output);
  const status = stopped ? 'stopped' : code === 0 && counts !== undefined ? 'passed' : 'failed';
  const mark = status === 'passed' ? '✔' : '✖';
  process.stdout.write(`\n${mark} ${name} (${(ms / 1000).toFixed(1)} s)\n${output.trimEnd()}\n`);
  if (stopped) {
    console.log(
      `✖ ${name}: still running ${((options.limitMs + STOP_GRACE_MS) / 1000).toFixed(0)} s after it began ` +
        `(limit ${(options.limitMs / 1000).toFixed(0)} s): stopped with its whole process tree`,
    );
  }
  if (leftovers.length > 0) {
    console.log(
      `  stopped ${leftovers.length} process(es) left behind: ${leftovers.map((p) => `${p.pid} ${p.command}`).join(', ')}`,
    );
  }
  return { file: name, status, ms, counts, leftovers };
}

/** Runs `files` at most `concurrency` at a time. */
async function runAll(
  files: string[],
  options: { env: NodeJS.ProcessEnv; limitMs: number; concurrency: number; runTag: string },
): Promise<FileResult[]> {
  const results: FileResult[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < files.length; i = next++) {
      results.push(await runFile(files[i]!, { ...options, tag: `${options.runTag}/${i}` }));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, lane));
  return results;
}

function report(results: FileResult[], ms: number): boolean {
  const total = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Counts;
  for (const r of results) if (r.counts) for (const name of COUNTERS) total[name] += r.counts[name];
  const bad = results.filter((r) => r.status !== 'passed');
  console.log('');
  for (const name of COUNTERS) console.log(`ℹ ${name} ${total[name]}`);
  console.log(`ℹ files ${results.length}`);
  console.log(`ℹ duration_ms ${ms}`);
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 5);
  console.log(`ℹ slowest files: ${slowest.map((r) => `${r.file} ${(r.ms / 1000).toFixed(1)} s`).join(', ')}`);
  if (bad.length > 0) {
    console.log('\n✖ files that failed:');
    for (const r of bad)
      console.log(`  ${r.file}: ${r.status === 'stopped' ? 'stopped at its limit' : 'failed'}`);
  }
  return bad.length === 0 && total.fail === 0 && total.cancelled === 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  const explicit = args.filter((a, i) => a.endsWith('.ts') && (onlyAt < 0 || i !== onlyAt + 1));
  const files =
    explicit.length > 0
      ? explicit.map((f) => resolve(f))
      : [
          ...testFiles(join(root, 'test', only ?? '')),
          // Each gateway keeps its own tests in its folder (adapter, webhook, emulator, mapping).
          ...(only === undefined || only === 'integration' ? testFiles(join(root, 'src', 'gateways')) : []),
        ];
  const needsTemporal = files.some((f) =>
    ['workflow', 'integration', 'e2e', 'cluster', 'realtime']
      .map((tier) => join('test', tier))
      .concat(join('src', 'gateways'))
      .some((dir) => relative(root, f).startsWith(dir)),
  );

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    NODE_ENV: 'test',
  };
  // Set when this runner itself runs inside a test (its own test): its files report to it, not up.
  delete env.NODE_TEST_CONTEXT;
  if (needsTemporal) {
    const cli = findTemporalCli();
    const testServer = findTestServer();
    console.log(
      `temporal cli: ${cli ?? '(SDK download)'}\ntime-skipping test server: ${testServer ?? '(SDK download)'}`,
    );
    if (!cli || !testServer)
      console.log('hint: `npm run provision` builds both without internet access to the SDK CDN');
    const started = Date.now();
    env.TEST_WORKFLOW_BUNDLE = await writeWorkflowBundle(join(root, '.cache', 'test', 'workflow-bundle.js'));
    console.log(`workflow bundle built once in ${Date.now() - started} ms`);
  }

  // The cluster tier is one long file (a cluster started twice), and the real-time tier waits for
  // minute-long billing cycles: their limit is wider.
  const limitMs = Number(
    process.env.TEST_FILE_TIMEOUT_MS ?? (only === 'cluster' || only === 'realtime' ? 1_800_000 : 300_000),
  );
  const concurrency = Number(process.env.TEST_CONCURRENCY ?? '2');
  console.log(
    `${files.length} test files, ${concurrency} at a time, each limited to ${(limitMs / 1000).toFixed(0)} s`,
  );
  const inherited = process.env[PROCESS_TAG_VARIABLE];
  const runTag = `${inherited ? `${inherited}/` : ''}tests-${process.pid}-${Date.now()}`;
  // Interrupted (Ctrl-C, a CI step's limit): the files' process trees left this process group,
  // so the signal does not reach them; stop them by the run's tag before leaving.
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\n${signal}: stopping every process of the test files`);
    void stopRun({ tag: runTag, graceMs: 2_000 }).then((stoppedProcesses) => {
      console.log(`stopped ${stoppedProcesses.length} process(es)`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => interrupt(signal));
  const started = Date.now();
  const results = await runAll(files, { env, limitMs, concurrency, runTag });
  process.exit(report(results, Date.now() - started) ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

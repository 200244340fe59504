/**
 * The test runner itself (`scripts/run-tests.ts`): a file that never ends fails the run at its
 * limit and leaves no process behind, even when it ignores SIGTERM and its children left its
 * process group; a file that passes but leaves a server running still passes, and the server goes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseCounts } from '../../scripts/run-tests';

const root = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'runner-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Alive and not a zombie (a zombie has exited; only its parent's reaping is left). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Runs a command to its end: its exit code, its output, and the pids its processes wrote to `pidsFile`. */
async function runProbed(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; pidsFile: string; detached?: boolean; cwd?: string },
): Promise<{ code: number | null; output: string; pids: number[] }> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? root,
    env: options.env,
    detached: options.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  const pids = readFileSync(options.pidsFile, 'utf8').split('\n').filter(Boolean).map(Number);
  return { code, output, pids };
}

async function runRunner(
  fixture: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string; pids: number[]; ms: number }> {
  const pidsFile = join(dir, `${fixture}.pids`);
  writeFileSync(pidsFile, '');
  const started = Date.now();
  const { code, output, pids } = await runProbed(
    process.execPath,
    ['--import', 'tsx', join('scripts', 'run-tests.ts'), join('test', 'fixtures', 'runner', `${fixture}.ts`)],
    { env: { ...process.env, ...env, RUNNER_PROBE_PIDS: pidsFile }, pidsFile },
  );
  return { code, output, pids, ms: Date.now() - started };
}

describe('the test runner', () => {
  it('fails a file that awaits for ever at its limit, and stops every process it started', async () => {
    const limitMs = 4_000;
    const { code, output, pids, ms } = await runRunner('hangs-forever', {
      TEST_FILE_TIMEOUT_MS: String(limitMs),
      TEST_STOP_GRACE_MS: '1000',
    });
    assert.equal(code, 1, output);
    assert.match(output, /stopped with its whole process tree/);
    assert.match(
      output,
      /files that failed:\n {2}test\/fixtures\/runner\/hangs-forever\.ts: stopped at its limit/,
    );
    assert.ok(ms >= limitMs, `the file ran its ${limitMs} ms before it was stopped (${ms} ms)`);
    assert.equal(pids.length, 3, 'the planted test started its three processes');
    assert.deepEqual(
      pids.filter(running),
      [],
      'the detached child, the child and the grandchild were all stopped',
    );
  });

  it('stops every process of its files when it is interrupted (Ctrl-C, a CI limit)', async () => {
    const pidsFile = join(dir, 'interrupted.pids');
    writeFileSync(pidsFile, '');
    const runner = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join('scripts', 'run-tests.ts'),
        join('test', 'fixtures', 'runner', 'hangs-forever.ts'),
      ],
      {
        cwd: root,
        env: { ...process.env, RUNNER_PROBE_PIDS: pidsFile, TEST_FILE_TIMEOUT_MS: '3600000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    runner.stdout.on('data', (c: Buffer) => (output += c.toString()));
    runner.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((done) => runner.once('exit', done));
    // The planted file has started its three processes (it writes their pids once they run).
    const pids = async (): Promise<number[]> => {
      for (;;) {
        const list = readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).map(Number);
        if (list.length === 3) return list;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const started = await pids();
    runner.kill('SIGINT');
    const code = await exited;
    assert.notEqual(code, 0, output);
    assert.match(output, /SIGINT: stopping/);
    assert.deepEqual(started.filter(running), [], 'nothing the file started outlives the runner');
  });

  it('passes a file that passes, and stops what it left running', async () => {
    const { code, output, pids } = await runRunner('leaves-a-server', {});
    assert.equal(code, 0, output);
    assert.match(output, /stopped 1 process\(es\) left behind: \d+ sleep/);
    assert.match(output, /^ℹ pass 1$/m);
    assert.equal(pids.length, 1);
    assert.deepEqual(pids.filter(running), []);
  });

  it('reads the counters of a spec summary, and none from a file that printed none', () => {
    const summary = ['tests 3', 'suites 1', 'pass 2', 'fail 1', 'cancelled 0', 'skipped 0', 'todo 0']
      .map((l) => `ℹ ${l}`)
      .join('\n');
    assert.deepEqual(parseCounts(`✔ a\n${summary}\nℹ duration_ms 12\n`), {
      tests: 3,
      suites: 1,
      pass: 2,
      fail: 1,
      cancelled: 0,
      skipped: 0,
      todo: 0,
    });
    assert.equal(parseCounts('✔ a\n'), undefined);
  });
});

describe("CI's step limit (scripts/with-limit.sh)", () => {
  async function withLimit(seconds: number, script: string) {
    const pidsFile = join(dir, `with-limit-${Date.now()}.pids`);
    writeFileSync(pidsFile, '');
    // A session of its own, as a CI step's shell has.
    return runProbed(
      'bash',
      [join(root, 'scripts', 'with-limit.sh'), String(seconds), 'bash', '-c', script],
      {
        env: { ...process.env, PIDS: pidsFile },
        pidsFile,
        detached: true,
      },
    );
  }

  it('stops a step at its limit with everything it started, detached or orphaned, and exits 124', async () => {
    const { code, output, pids } = await withLimit(
      2,
      // A detached server, an orphan whose parent is gone, and a command that never ends.
      'setsid sleep 100000 & echo $! >>"$PIDS"; (sleep 100000 & echo $! >>"$PIDS") ; sleep 100000 & echo $! >>"$PIDS"; wait',
    );
    assert.equal(code, 124, output);
    assert.match(output, /still running after its limit of 2 s/);
    assert.equal(pids.length, 3);
    assert.deepEqual(pids.filter(running), []);
  });

  it('passes on the exit status of a step that ends, and stops what it left running', async () => {
    const { code, output, pids } = await withLimit(600, 'setsid sleep 100000 & echo $! >>"$PIDS"; exit 3');
    assert.equal(code, 3, output);
    assert.match(output, /stopping 1 process\(es\): sleep×1/);
    assert.deepEqual(pids.filter(running), []);
  });
});

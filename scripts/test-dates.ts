/**
 * `npm run test:dates`: runs the test suite (`npm test`, with any arguments given) once for each of
 * a few awkward dates on which the emulators' clocks start (`EMULATOR_START_TIME`): a month's last
 * day, a leap day, the start of a year's last month. Tests that move an emulator's clock start it
 * there; a test that counted days instead of reading the next billing time the emulator reports
 * fails on one of them. Prints one line per date and exits non-zero if any run failed.
 *
 *   npm run test:dates
 *   npm run test:dates -- --only e2e
 *   TEST_DATES=2027-03-31T23:30:00Z npm run test:dates
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const DEFAULT_DATES = ['2027-01-31T10:00:00Z', '2028-02-29T10:00:00Z', '2027-12-01T10:00:00Z'];

function run(date: string, args: string[]): Promise<{ code: number | null; ms: number; summary: string }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, 'run-tests.ts'), ...args], {
      env: { ...process.env, EMULATOR_START_TIME: date },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4_000);
    });
    child.once('exit', (code) => {
      const counts = ['tests', 'pass', 'fail']
        .map((name) => new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(tail)?.[1] ?? '?')
        .join(' / ');
      done({ code, ms: Date.now() - started, summary: counts });
    });
  });
}

async function main(): Promise<void> {
  const dates = process.env.TEST_DATES?.split(',').filter(Boolean) ?? DEFAULT_DATES;
  const rows: string[] = [];
  for (const date of dates) {
    console.log(`\n===== emulators start at ${date}`);
    const { code, ms, summary } = await run(date, process.argv.slice(2));
    rows.push(
      `${date}: ${code === 0 ? 'passed' : 'FAILED'} (tests / pass / fail: ${summary}) in ${Math.round(ms / 1000)} s`,
    );
  }
  console.log(`\n${rows.join('\n')}`);
  process.exit(rows.every((r) => r.includes(': passed')) ? 0 : 1);
}

void main();

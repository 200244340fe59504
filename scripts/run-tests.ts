/**
 * The test command (`npm test`): bundles the workflow code once for the whole run, checks that
 * the Temporal binaries can be found, then runs every test file with Node's test runner.
 *
 *   npm test                       all tests but the cluster tier
 *   npm test -- --only unit        one folder of test/ (unit, workflow, integration, e2e, cluster);
 *                                  `integration` includes the gateways' own tests (in src/gateways)
 *   npm test -- test/unit/x.test.ts  given files
 *
 * The cluster tier (test/cluster/, `npm run test:cluster`) runs the production topology of
 * `npm run cluster`; it runs on its own, after `npm test` in CI, so that it has the machine.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { findTemporalCli, findTestServer } from '../src/dev/temporal-binaries';
import { writeWorkflowBundle } from '../src/dev/workflow-bundle';

const root = resolve(__dirname, '..');

/** Folders under test/ that `npm test` leaves out unless asked for with `--only`. */
const SEPARATE_TIERS = new Set([join(root, 'test', 'cluster')]);

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
  const needsTemporal = files.some((f) => !relative(root, f).startsWith(join('test', 'unit')));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    NODE_ENV: 'test',
  };
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

  const concurrency = process.env.TEST_CONCURRENCY ?? '2';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${concurrency}`,
      // The cluster tier is one long file (a cluster started twice): its hang-guard is wider.
      `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? (only === 'cluster' ? 1_800_000 : 180_000)}`,
      ...files,
    ],
    { stdio: 'inherit', env, cwd: root },
  );
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

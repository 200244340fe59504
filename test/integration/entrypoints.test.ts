/**
 * The entry points fail the way an operator needs: a bad or missing variable is named, the
 * process exits non-zero, and no stack trace is printed. And the lint rules really keep Node
 * built-ins out of workflow code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = join(__dirname, '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function run(entry: string, env: Record<string, string>) {
  const result = spawnSync(tsx, [entry], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function assertNoStack(output: string): void {
  assert.doesNotMatch(output, /^\s+at .+\(.+:\d+:\d+\)$/m, 'no stack trace');
}

describe('worker and API entry points', () => {
  it('the worker names an invalid TEMPORAL_ADDRESS and exits non-zero', () => {
    const { status, output } = run('worker.ts', { TEMPORAL_ADDRESS: 'not an address' });
    assert.notEqual(status, 0);
    assert.match(output, /TEMPORAL_ADDRESS: must be host:port/);
    assertNoStack(output);
  });

  it('the worker names a missing required variable (real QFPay without credentials)', () => {
    const { status, output } = run('worker.ts', { QFPAY_BASE_URL: 'https://openapi-hk.qfapi.com' });
    assert.notEqual(status, 0);
    assert.match(output, /QFPAY_APP_CODE: required/);
    assert.match(output, /QFPAY_APP_KEY: required/);
    assertNoStack(output);
  });

  it('the worker says it cannot reach Temporal (naming TEMPORAL_ADDRESS) and exits non-zero', () => {
    const { status, output } = run('worker.ts', { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(status, 1);
    assert.match(output, /cannot connect to Temporal/);
    assert.match(output, /TEMPORAL_ADDRESS/);
    assertNoStack(output);
  });

  it('the API names an invalid PORT and exits non-zero', () => {
    const { status, output } = run('src/api/main.ts', { PORT: 'eighty' });
    assert.notEqual(status, 0);
    assert.match(output, /PORT:/);
    assertNoStack(output);
  });
});

// The workflows and the pure domain they are built on run in the deterministic sandbox alike.
for (const workflowFile of [
  join(root, 'src', 'workflows', 'summaries.ts'),
  join(root, 'src', 'domain', 'episode', 'episode.ts'),
])
  describe(`lint keeps workflow code deterministic (${relative(root, workflowFile)})`, () => {
    const eslint = new ESLint({ cwd: root });

    /** Asserts that the lint fails the workflow file with `before` above it and `after` below it, with one message containing each of `expected`. */
    async function lintFails(
      planted: { before?: string; after: string },
      ...expected: string[]
    ): Promise<void> {
      const text = `${planted.before ?? ''}${readFileSync(workflowFile, 'utf8')}\n${planted.after}\n`;
      const [result] = await eslint.lintText(text, { filePath: workflowFile });
      const messages = result?.messages.map((m) => `${m.ruleId}: ${m.message}`) ?? [];
      assert.ok(
        messages.some((m) => expected.every((part) => m.includes(part))),
        `${planted.before ?? ''}${planted.after}\n${messages.join('\n')}`,
      );
    }

    it('fails a workflow file that imports fs', async () => {
      await lintFails(
        { before: "import { readFileSync } from 'fs';\n", after: 'export const leaked = readFileSync;' },
        'no-restricted-imports',
        'deterministic sandbox',
      );
    });

    it('fails a workflow file that imports an activity implementation (not only its type)', async () => {
      await lintFails(
        {
          before: "import { createEngineActivities } from '../activities/engine';\n",
          after: 'export const leaked = createEngineActivities;',
        },
        'as types only',
      );
    });

    it('fails a workflow file that imports zod (loaded once per cached workflow)', async () => {
      await lintFails(
        { before: "import { z } from 'zod';\n", after: 'export const leaked = z.string();' },
        'once per cached workflow',
      );
    });

    it('fails a workflow file with a let or var at module scope (shared by every workflow of a worker)', async () => {
      for (const after of ['export let leaked = 0;', 'var counted = 0;\nexport const read = () => counted;'])
        await lintFails({ after }, 'No let or var at module scope');
    });

    it('fails a workflow file with a Map or Set at module scope (the shared freeze leaves its contents writable)', async () => {
      for (const after of [
        'const seen = new Set<string>();',
        'export const byId = new Map<string, number>();',
      ])
        await lintFails({ after }, 'No Map or Set at module scope');
    });

    it('passes the workflow file as it is', async () => {
      const [result] = await eslint.lintText(readFileSync(workflowFile, 'utf8'), { filePath: workflowFile });
      assert.equal(result?.errorCount, 0, result?.messages.map((m) => m.message).join('\n'));
    });
  });

describe('lint keeps one definition per route', () => {
  const eslint = new ESLint({ cwd: root });
  const routeFile = join(root, 'src', 'api', 'routes', 'products.ts');

  it('fails a route declared with a path of its own instead of its OpenAPI operation', async () => {
    const planted = `${readFileSync(routeFile, 'utf8')}\nexport function planted(router: Router): void {\n  router.get('/undocumented', (_req, res) => {\n    res.json({});\n  });\n}\n`;
    const [result] = await eslint.lintText(planted, { filePath: routeFile });
    const messages = result?.messages.map((m) => `${m.ruleId}: ${m.message}`) ?? [];
    assert.ok(
      messages.some((m) => m.includes('no-restricted-syntax') && m.includes('handle(router')),
      messages.join('\n'),
    );
  });

  it('passes the route file as it is', async () => {
    const [result] = await eslint.lintText(readFileSync(routeFile, 'utf8'), { filePath: routeFile });
    assert.equal(result?.errorCount, 0, result?.messages.map((m) => m.message).join('\n'));
  });
});

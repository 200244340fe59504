/**
 * The Dockerfile without a Docker engine: reproducible installs from the lockfile, a prebuilt
 * workflow bundle, production dependencies only in the final image, a non-root user and an init
 * process, plus a few hadolint-style rules.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(__dirname, '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return logical.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

/** The stages, by `FROM ... AS name` (the last one is the image that ships). */
function stages(all: Instruction[]): { from: string; name: string; body: Instruction[] }[] {
  const result: { from: string; name: string; body: Instruction[] }[] = [];
  for (const ins of all) {
    if (ins.keyword === 'FROM') {
      const [from = '', , name = ''] = ins.args.split(/\s+/);
      result.push({ from, name, body: [] });
    } else {
      result.at(-1)?.body.push(ins);
    }
  }
  return result;
}

const all = instructions(dockerfile);
const allStages = stages(all);
const final = allStages.at(-1);
const runs = all.filter((i) => i.keyword === 'RUN').map((i) => i.args);

describe('Dockerfile', () => {
  it('is multi-stage on node:20-bookworm-slim (a tag, no digest)', () => {
    assert.ok(allStages.length >= 3);
    const baseArg = all.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    assert.equal(baseArg?.args, 'NODE_IMAGE=node:20-bookworm-slim');
    for (const stage of allStages) assert.match(stage.from, /^(\$\{NODE_IMAGE\}|deps|bundle|prod-deps)$/);
    assert.doesNotMatch(dockerfile, /@sha256:/);
  });

  it('installs with npm ci from the copied lockfile, never npm install', () => {
    assert.ok(
      all.some((i) => i.keyword === 'COPY' && /\bpackage-lock\.json\b/.test(i.args)),
      'copies package-lock.json',
    );
    assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)));
    assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'no npm install');
  });

  it('builds the workflow bundle and points the worker at it', () => {
    assert.ok(runs.some((r) => /npm run build:bundle/.test(r)));
    assert.ok(final?.body.some((i) => i.keyword === 'COPY' && /dist\/workflow-bundle\.js/.test(i.args)));
    assert.match(dockerfile, /WORKFLOW_BUNDLE_PATH=\/app\/dist\/workflow-bundle\.js/);
  });

  it('ships production dependencies only, and tsx is one of them', () => {
    assert.ok(runs.some((r) => /npm ci --omit=dev/.test(r)));
    const copiedModules =
      final?.body.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args)) ?? [];
    assert.equal(copiedModules.length, 1);
    assert.match(copiedModules[0]?.args ?? '', /--from=prod-deps/);
    assert.ok(pkg.dependencies.tsx, 'tsx runs the entry points: it must be a runtime dependency');
  });

  it('runs as the non-root node user behind an init process', () => {
    const users = final?.body.filter((i) => i.keyword === 'USER') ?? [];
    assert.equal(users.at(-1)?.args, 'node');
    const entrypoint = final?.body.find((i) => i.keyword === 'ENTRYPOINT');
    assert.match(entrypoint?.args ?? '', /tini/);
    assert.ok(runs.some((r) => /apt-get install[^&]*\btini\b/.test(r)));
  });

  it('has a health check and a default command that runs the API', () => {
    const health = final?.body.find((i) => i.keyword === 'HEALTHCHECK');
    assert.match(health?.args ?? '', /healthcheck\.mjs.*\/healthz/);
    assert.ok(existsSync(join(root, 'deploy/healthcheck.mjs')));
    const cmd = final?.body.find((i) => i.keyword === 'CMD');
    assert.deepEqual(JSON.parse(cmd?.args ?? '[]'), ['node', '--import', 'tsx', 'src/api/main.ts']);
  });

  it('follows hadolint-style rules', () => {
    // DL3009 / DL3015: apt lists removed, no recommended packages.
    for (const run of runs.filter((r) => r.includes('apt-get install'))) {
      assert.match(run, /--no-install-recommends/);
      assert.match(run, /rm -rf \/var\/lib\/apt\/lists/);
      assert.match(run, /apt-get install -y/);
    }
    // DL3000: absolute WORKDIR. DL3020: COPY, not ADD. DL3025: exec form for CMD/ENTRYPOINT.
    for (const ins of all) {
      if (ins.keyword === 'WORKDIR') assert.match(ins.args, /^\//);
      assert.notEqual(ins.keyword, 'ADD');
      if (ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') assert.match(ins.args, /^\[/);
    }
    // DL3004: no sudo. DL4006-adjacent: no curl | sh.
    assert.ok(!runs.some((r) => /\bsudo\b|curl[^|]*\|\s*(ba)?sh/.test(r)));
  });

  it('keeps local state and secrets out of the build context', () => {
    const ignored = new Set(dockerignore.split('\n').map((l) => l.trim()));
    for (const entry of [
      'node_modules',
      '.data',
      '.cache',
      'test-results',
      'bench/results',
      '.git',
      '.env',
    ]) {
      assert.ok(ignored.has(entry), entry);
    }
  });
});

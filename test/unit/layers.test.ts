/**
 * The layer rules of `npm run lint` (dependency-cruiser, `.dependency-cruiser.cjs`): the engine's
 * own tree passes them, and a planted circle (closed by a type import), a domain file importing
 * Temporal and a gateway folder importing a workflow are each refused by name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const root = resolve(__dirname, '..', '..');
const CONFIG = join(root, '.dependency-cruiser.cjs');
const BIN = join(root, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string, paths: string[]): { status: number | null; out: string } {
  const run = spawnSync(BIN, [...paths, '--config', CONFIG], { cwd, encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

const planted = mkdtempSync(join(tmpdir(), 'layers-'));
after(() => rmSync(planted, { recursive: true, force: true }));

function plant(path: string, text: string): void {
  mkdirSync(dirname(join(planted, path)), { recursive: true });
  writeFileSync(join(planted, path), text);
}

void describe('the layers', () => {
  void it("pass on the engine's own tree", () => {
    const { status, out } = cruise(root, ['src', 'worker.ts', 'bench', 'chaos', 'scripts', 'test']);
    assert.equal(status, 0, out);
    assert.match(out, /no dependency violations found/);
  });

  void it('refuse a circle closed by a type import, Temporal in the domain and a gateway that imports a workflow', () => {
    symlinkSync(join(root, 'node_modules'), join(planted, 'node_modules'), 'dir');
    plant('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true } }));
    plant('src/workflows/a.ts', "import { a } from './b';\nexport const b = (): number => a;\n");
    plant(
      'src/workflows/b.ts',
      "import type { b } from './a';\nexport const a = 1;\nexport type B = typeof b;\n",
    );
    plant('src/domain/pure.ts', 'export const one = 1;\n');
    plant(
      'src/domain/timer.ts',
      "import { sleep } from '@temporalio/workflow';\nexport const wait = sleep;\n",
    );
    plant('src/gateways/port.ts', "import { one } from '../domain/pure';\nexport const port = one;\n");
    plant('src/gateways/acme/adapter.ts', "import { port } from '../port';\nexport const ok = port;\n");
    plant('src/gateways/acme/engine.ts', "import { b } from '../../workflows/a';\nexport const bad = b;\n");

    const { status, out } = cruise(planted, ['src']);
    assert.notEqual(status, 0, out);
    assert.match(out, /no-circular: src\/workflows\/a\.ts/);
    assert.match(out, /domain-is-pure: src\/domain\/timer\.ts → \S*node_modules\/@temporalio\/workflow\//);
    assert.match(
      out,
      /gateway-sees-port-and-domain: src\/gateways\/acme\/engine\.ts → src\/workflows\/a\.ts/,
    );
    assert.doesNotMatch(
      out,
      /src\/domain\/pure\.ts →|src\/gateways\/acme\/adapter\.ts →/,
      'allowed imports pass',
    );
    assert.match(out, /x 3 dependency violations/);
  });
});

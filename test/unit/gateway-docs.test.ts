/**
 * docs/gateways.md states which gateway supports what; the registry is the truth. A gateway added
 * or a capability changed without the table following fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gatewayTable } from '../../src/gateways/registry';

const COLUMNS = [
  'manualCharge',
  'pause',
  'changeToken',
  'changeCycles',
  'changeProducts',
  'changePrice',
  'cancel',
] as const;

void describe('docs/gateways.md', () => {
  void it('has one row per registered gateway, with its capabilities', () => {
    const text = readFileSync(join(__dirname, '..', '..', 'docs', 'gateways.md'), 'utf8');
    const rows = new Map(
      text
        .split('\n')
        .map((line) => /^\| `([a-z0-9]+)` +\|(.*)\|$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!.split('|').map((cell) => cell.trim())]),
    );
    const gateways = gatewayTable();
    assert.deepEqual(
      [...rows.keys()],
      gateways.map((g) => g.name),
    );
    for (const gateway of gateways) {
      const wanted = COLUMNS.map((c) => (gateway.capabilities[c] ? 'yes' : 'no'));
      assert.deepEqual(rows.get(gateway.name), wanted, gateway.name);
      assert.ok(text.includes(`**${gateway.name}**`), `${gateway.name}'s recovery is described`);
    }
  });
});

/**
 * docs/gateways.md states which gateway supports what, under the names `GET /v1/gateways` gives
 * each capability; the registry is the truth. A gateway added or a capability changed without the
 * table following fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gatewayView } from '../../src/api/views';
import { gatewayTable } from '../../src/gateways/registry';

/** The table's columns after `gateway`: the API's capability fields that are yes or no. */
const COLUMNS = [
  'manual_charge',
  'pause',
  'change_token',
  'change_cycles',
  'change_products',
  'change_price',
  'cancel',
] as const;

void describe('docs/gateways.md', () => {
  void it('has one row per registered gateway, with its capabilities under their API names', () => {
    const text = readFileSync(join(__dirname, '..', '..', 'docs', 'gateways.md'), 'utf8');
    const lines = text.split('\n');
    const cells = (line: string) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim());
    const header = lines.find((line) => /^\| gateway +\|/.test(line));
    assert.ok(header, 'the capability table has a header');
    assert.deepEqual(cells(header), ['gateway', ...COLUMNS.map((c) => `\`${c}\``)]);
    const rows = new Map(
      lines
        .map((line) => /^\| `([a-z0-9]+)` +\|(.*)\|$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!.split('|').map((cell) => cell.trim())]),
    );
    const gateways = gatewayTable().map(gatewayView);
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

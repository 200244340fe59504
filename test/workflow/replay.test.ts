/**
 * Determinism guard: histories recorded from real runs (the end-to-end test with
 * RECORD_HISTORIES=1) replay against today's workflow code. A change that would break running
 * workflows in production (a new activity call, a reordered timer, a different branch on the same
 * history) fails here.
 *
 * Three are kept from earlier builds and are not recorded again: `merchant-event-delivery` and
 * `subscription-continued-before-rename` upsert the QFPay-only search attribute names
 * (`QfpaySubscriptionId`, `QfpayCustomerId`), and `subscription-renamed-mid-run` began on that
 * build and went on to the gateway-neutral names on this one (a patch marker mid-history).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowSource } from '../helpers/temporal';

const dir = join(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.binpb'));

describe('replay of recorded workflow histories', () => {
  it('has recorded histories to replay', () => {
    assert.ok(files.length > 0, `no histories in ${dir}`);
  });
  for (const file of files) {
    it(`replays ${file} without a determinism error`, async () => {
      const history = temporal.api.history.v1.History.decode(readFileSync(join(dir, file)));
      assert.ok((history.events?.length ?? 0) > 10, 'a real history');
      await Worker.runReplayHistory(workflowSource(), history, file.replace(/\.binpb$/, ''));
    });
  }
});

/**
 * The chaos run's refused delivery starts (`chaos/refuse-event-starts.ts`) decide by the workflow
 * task's time, which a replay sees again, also the replay a worker with nothing cached makes to
 * answer a query (whose last task shows a history one event longer than the run saw).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DELIVERY_ID_PREFIX,
  REFUSED_PERIOD,
  REFUSED_WINDOW_MS,
  refused,
} from '../../chaos/refuse-event-starts';
import { afterFlush } from '../../src/domain/events/flush';
import { pastDue } from '../helpers/engine-states';

const delivery = `${DELIVERY_ID_PREFIX}evt.sub_1.paid.0002`;

/** When the engine tries a refused start again after its `failures`-th refusal at `at` (`afterFlush`). */
function retryAfterRefusal(failures: number, at: number): number {
  const state = { ...pastDue(), flushFailures: failures - 1 };
  return afterFlush(state, { handedOver: [], notStarted: ['evt.x'] }, at).flushRetryAt!;
}

describe('chaos: refused merchant event starts', () => {
  it('refuses one window in seven, whole windows, and only delivery starts', () => {
    const t0 = REFUSED_WINDOW_MS * REFUSED_PERIOD * 1_000;
    const refusedAt = Array.from({ length: 15 }, (_, i) => refused(delivery, t0 + i * REFUSED_WINDOW_MS));
    assert.deepEqual(
      refusedAt.map((r, i) => (r ? i : -1)).filter((i) => i >= 0),
      [0, 7, 14],
    );
    assert.equal(refused('sync:sub_1', t0), false);
  });

  it('the engine’s retry after any number of refusals goes through: its back-off never lands in a refused window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 0, max: REFUSED_WINDOW_MS - 1 }),
        fc.integer({ min: 1, max: 20 }),
        // The retry's task starts up to a second after its time (a busy worker).
        fc.integer({ min: 0, max: 999 }),
        (window, within, failures, late) => {
          const at = window * REFUSED_PERIOD * REFUSED_WINDOW_MS + within;
          assert.ok(refused(delivery, at));
          assert.equal(refused(delivery, retryAfterRefusal(failures, at) + late), false);
        },
      ),
    );
  });
});

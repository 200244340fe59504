/**
 * The chaos run's refused delivery starts (`chaos/refuse-event-starts.ts`) decide by the workflow
 * task's time, which a replay sees again, also the replay a worker with nothing cached makes to
 * answer a query (whose last task shows a history one event longer than the run saw).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DELIVERY_ID_PREFIX, REFUSED_WINDOW_MS, refused } from '../../chaos/refuse-event-starts';

const delivery = `${DELIVERY_ID_PREFIX}evt.sub_1.paid.0002`;

describe('chaos: refused merchant event starts', () => {
  it('refuses a quarter of the time, in whole windows, and only delivery starts', () => {
    const t0 = Date.UTC(2027, 0, 1);
    const refusedAt = Array.from({ length: 8 }, (_, i) => refused(delivery, t0 + i * REFUSED_WINDOW_MS));
    assert.deepEqual(refusedAt, [true, false, false, false, true, false, false, false]);
    assert.equal(refused('sync:sub_1', t0), false);
  });

  it('a start tried again one to three windows later goes through (the engine waits a second at least)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4e12 }),
        fc.integer({ min: 0, max: REFUSED_WINDOW_MS * 2 }),
        (t, extra) => {
          if (!refused(delivery, t)) return;
          assert.equal(refused(delivery, t + REFUSED_WINDOW_MS + extra), false);
        },
      ),
    );
  });
});

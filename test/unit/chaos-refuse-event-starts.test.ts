/**
 * The chaos run's refused delivery starts (`chaos/refuse-event-starts.ts`) depend only on the
 * delivery's id and on what the run's own interceptor refused before: the same sequence of starts
 * (a replay's) gets the same answers, whenever and wherever it runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { StartChildWorkflowExecutionInput } from '@temporalio/workflow';
import {
  DELIVERY_ID_PREFIX,
  REFUSED_ONE_IN,
  REFUSED_START,
  RefuseEventStarts,
  refusedOnce,
} from '../../chaos/refuse-event-starts';

/** The next step of a start that goes through (its answer is not read here). */
const started = (async () => undefined) as never;

/** The answers one run's interceptor gives to a sequence of starts: started, or refused. */
async function answers(ids: readonly string[]): Promise<string[]> {
  const interceptor = new RefuseEventStarts();
  const out: string[] = [];
  for (const workflowId of ids) {
    const input = { options: { workflowId } } as unknown as StartChildWorkflowExecutionInput;
    try {
      void (await interceptor.startChildWorkflowExecution(input, started));
      out.push('started');
    } catch (err) {
      assert.equal((err as Error).message, REFUSED_START);
      out.push('refused');
    }
  }
  return out;
}

const delivery = (n: number) => `${DELIVERY_ID_PREFIX}evt.sub_1.paid.${String(n).padStart(4, '0')}`;

describe('chaos: refused merchant event starts', () => {
  it('refuses the first start of about one delivery in three, never a second start, and only deliveries', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => delivery(i));
    const chosen = ids.filter(refusedOnce).length;
    assert.ok(chosen > 300 / REFUSED_ONE_IN / 2 && chosen < (2 * 300) / REFUSED_ONE_IN, `${chosen} of 300`);
    const first = ids.find(refusedOnce)!;
    assert.deepEqual(await answers([first, first, first]), ['refused', 'started', 'started']);
    assert.equal(refusedOnce('sync:sub_1'), false);
    assert.deepEqual(await answers(['sync:sub_1']), ['started']);
  });

  it('gives a replay of the same starts the same answers (a fresh interceptor per run)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }), async (picks) => {
        const ids = picks.map(delivery);
        assert.deepEqual(await answers(ids), await answers(ids));
      }),
    );
  });
});

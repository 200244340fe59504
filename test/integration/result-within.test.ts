/**
 * `resultWithin`, the wait behind a creation's synchronous answer, on the dev server: a wait that
 * runs out while the workflow is still running is "still running" (a 202 or a `creation_pending`),
 * never an error. When the wait runs out, the server itself may end the long poll first and answer
 * CANCELLED instead of the client's DEADLINE_EXCEEDED (about 1 wait in 12 with waits of 1–40 ms);
 * the API once answered 503 `temporal_unavailable` then.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { resultWithin } from '../../src/api/idempotency';
import { startDevServer, uniqueTaskQueue } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startDevServer();
});
after(async () => {
  await env?.teardown();
});

describe('resultWithin', () => {
  it('a wait that runs out while the workflow runs is "still running", whichever side ends it', async () => {
    // No worker polls this task queue: the workflow stays running for the whole test.
    const handle = await env.client.workflow.start('createCustomerWorkflow', {
      workflowId: `result-within-${Date.now()}`,
      taskQueue: uniqueTaskQueue('result-within'),
      args: [{ name: 'Ada', email: 'ada@example.com' }],
    });
    try {
      const errors: string[] = [];
      for (let i = 0; i < 300; i += 1) {
        try {
          const outcome = await resultWithin(env.client, handle, 1 + (i % 40));
          assert.equal(outcome, undefined, 'the workflow never completes');
        } catch (err) {
          errors.push(`${(i % 40) + 1} ms: ${String(err)} (${String((err as Error).cause)})`);
        }
      }
      assert.deepEqual(errors, []);
    } finally {
      await handle.terminate('test done');
    }
  });
});

/**
 * A merchant event's delivery workflow on the time-skipping test server: attempts back off
 * exponentially with jitter for about three days, never sooner than the endpoint's `Retry-After`;
 * `410 Gone` and the other final answers stop at once; a failed attempt keeps the same event (and
 * id); the delivery's search attributes and memo say where it stands.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MerchantEventAttempt } from '../../src/activities/contracts';
import type { MerchantEvent } from '../../src/events/merchant-events';
import { DELIVERY_SCHEDULE } from '../../src/domain/events/delivery-schedule';
import {
  LEGACY_SEARCH_ATTRIBUTES,
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  type MerchantEventDeliveryMemo,
  type MerchantEventDeliveryResult,
} from '../../src/workflows/definitions';
import { createTestWorker, useTimeSkipping } from '../helpers/temporal';
import { HOUR } from '../../src/domain/duration';

const timeSkipping = useTimeSkipping();

const event: MerchantEvent = {
  id: 'evt.sub_d1.payment_failed.0002.1732158726000',
  type: 'subscription.payment_failed',
  created_at: '2024-11-21T03:12:06Z',
  subscription_id: 'sub_d1',
  data: { order_id: 'ord_2', sequence_no: 2, amount: 1000, currency: 'HKD', respcd: '1205' },
};

/** An endpoint scripted attempt by attempt (the last answer repeats), recording when each came. */
async function deliver(script: Array<MerchantEventAttempt | 'crash'>, sent: MerchantEvent = event) {
  const { env } = timeSkipping;
  const attempts: Array<{ at: number; event: MerchantEvent }> = [];
  const { worker, taskQueue } = await createTestWorker(env, {
    activities: {
      sendMerchantEvent: async (sent: MerchantEvent): Promise<MerchantEventAttempt> => {
        attempts.push({ at: await env.currentTimeMs(), event: sent });
        const answer = script[Math.min(attempts.length, script.length) - 1]!;
        if (answer === 'crash') throw new Error('worker lost the attempt');
        return answer;
      },
    },
  });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(WORKFLOW_TYPES.merchantEventDelivery, {
      workflowId: `merchant-event:${sent.id}:${Math.random()}`,
      taskQueue,
      args: [sent],
    });
    timeSkipping.track(handle);
    const result = (await handle.result()) as MerchantEventDeliveryResult;
    const description = await handle.describe();
    return {
      result,
      attempts,
      status: description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.merchantEventStatus),
      attributes: description.typedSearchAttributes,
      memo: description.memo as MerchantEventDeliveryMemo,
    };
  });
}

const failed = (httpStatus: number, retryAfterMs?: number): MerchantEventAttempt => ({
  result: 'failed',
  httpStatus,
  reason: `HTTP ${httpStatus}`,
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});
const delivered: MerchantEventAttempt = { result: 'delivered', httpStatus: 200, reason: 'HTTP 200' };

describe('merchant event delivery (time-skipping server)', () => {
  it('backs off exponentially with jitter for about three days, then fails for the operator to see', async () => {
    const { result, attempts, status, memo } = await deliver([failed(503)]);
    assert.equal(result.status, 'failed');
    assert.equal(status, 'failed');
    assert.equal(result.attempts, attempts.length);
    assert.match(result.failure ?? '', /^gave up after \d+ attempts over .*; last: HTTP 503$/);
    assert.equal(memo.lastAttempt?.httpStatus, 503);
    assert.equal(memo.failure, result.failure);
    const span = attempts.at(-1)!.at - attempts[0]!.at;
    assert.ok(span <= DELIVERY_SCHEDULE.windowMs, `${span / HOUR} h`);
    assert.ok(span > DELIVERY_SCHEDULE.windowMs - DELIVERY_SCHEDULE.maxDelayMs * 1.2, `${span / HOUR} h`);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    gaps.forEach((gap, i) => {
      const base = Math.min(
        DELIVERY_SCHEDULE.firstDelayMs * DELIVERY_SCHEDULE.factor ** i,
        DELIVERY_SCHEDULE.maxDelayMs,
      );
      assert.ok(
        gap >= base * 0.8 - 1_000 && gap <= base * 1.2 + 1_000,
        `gap ${i + 1}: ${gap} ms, base ${base}`,
      );
    });
    // Every attempt sends the same event: the receiver deduplicates on its id.
    assert.ok(attempts.every((a) => a.event.id === event.id));
  });

  it('waits at least the endpoint’s Retry-After (429), then delivers', async () => {
    const { result, attempts, status, memo } = await deliver([failed(429, 2 * HOUR), delivered]);
    assert.deepEqual(result, { delivered: true, status: 'delivered', attempts: 2 });
    assert.equal(status, 'delivered');
    assert.equal(memo.lastAttempt?.attempt, 2);
    assert.equal(memo.failure, undefined);
    assert.ok(attempts[1]!.at - attempts[0]!.at >= 2 * HOUR);
  });

  it('stops at once when the endpoint is gone (410), turned off, or the event cannot be sent', async () => {
    for (const result of ['gone', 'endpoint_off', 'invalid', 'not_configured'] as const) {
      const run = await deliver([{ result, httpStatus: result === 'gone' ? 410 : 0, reason: result }]);
      assert.equal(run.attempts.length, 1, result);
      assert.equal(run.result.status, 'failed', result);
      assert.equal(run.memo.failure, result);
    }
  });

  it('says which subscription and gateway the event is for (SubscriptionId, Gateway), not under the QFPay-only name', async () => {
    const subscriptionId = 'madfintech:mf_d1';
    const { attributes } = await deliver([delivered], {
      ...event,
      id: `evt.${subscriptionId}.0001`,
      subscription_id: subscriptionId,
    });
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.subscriptionId), subscriptionId);
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.gateway), 'madfintech');
    assert.equal(attributes.get(LEGACY_SEARCH_ATTRIBUTES.subscriptionId), undefined);
  });

  it('counts an attempt the worker lost as a failed one, and tries again', async () => {
    const { result, attempts } = await deliver(['crash', delivered]);
    assert.equal(result.status, 'delivered');
    assert.equal(attempts.length, 2);
  });
});

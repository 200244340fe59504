/**
 * A QFPay creation's steps, over recording calls: the order the creation workflow's history keeps
 * (its replay test guards that order against recorded runs), and what the hand-over is given.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createQfpaySubscription,
  type HandOverArgs,
  type QfpayCreationCalls,
} from '../../src/workflows/creation-steps';
import type { CreateSubscriptionInput } from '../../src/workflows/definitions';

const MADE_AT = Date.parse('2027-01-10T02:00:00Z');
const CLOCK_NOW = Date.parse('2027-03-01T00:00:00Z');

function recording(state: 'ACTIVE' | 'UNKNOWN' = 'ACTIVE') {
  const calls: string[] = [];
  let handedOver: HandOverArgs | undefined;
  const steps: QfpayCreationCalls = {
    qfpay: {
      ensureCustomer: async (input) => (calls.push(`ensureCustomer ${input.testClock ?? '-'}`), 'cus_new'),
      ensureProduct: async (input) => (calls.push(`ensureProduct ${input.testClock ?? '-'}`), 'prd_new'),
      listSubscriptionIds: async ({ customerId }) => (calls.push(`list ${customerId}`), ['sub_old']),
      findOrCreateSubscription: async ({ existingIds, productId }) => {
        calls.push(`findOrCreate ${productId} not ${existingIds.join(',')}`);
        return { subscriptionId: 'sub_new', state, reusedExisting: false, at: MADE_AT };
      },
    },
    clockNow: async (clock) => (calls.push(`clockNow ${clock}`), CLOCK_NOW),
    handOver: async (...args) => {
      calls.push(`handOver ${args[0].subscriptionId}`);
      handedOver = args;
      return 'handed_over';
    },
  };
  return { steps, calls, handedOver: () => handedOver };
}

const PRODUCT = {
  name: 'Monthly',
  amount: 3000,
  currency: 'HKD',
  interval: 'monthly',
  intervalCount: 1,
} as const;

describe('createQfpaySubscription', () => {
  it('on existing customer and product: list, find-or-create, hand-over; no clock read', async () => {
    const { steps, calls, handedOver } = recording();
    const input: CreateSubscriptionInput = {
      customer: { customerId: 'cus_1' },
      product: { productId: 'prd_1' },
      tokenId: 'tok_1',
    };
    const made = await createQfpaySubscription(input, steps);
    assert.deepEqual(calls, ['list cus_1', 'findOrCreate prd_1 not sub_old', 'handOver sub_new']);
    assert.deepEqual(made, {
      customerId: 'cus_1',
      productId: 'prd_1',
      created: { subscriptionId: 'sub_new', state: 'ACTIVE', reusedExisting: false, at: MADE_AT },
      handover: 'handed_over',
    });
    const [workflowInput, handover, price] = handedOver()!;
    assert.deepEqual(workflowInput, {
      subscriptionId: 'sub_new',
      origin: 'created',
      policy: undefined,
      options: undefined,
    });
    assert.deepEqual(handover.fact, {
      kind: 'created',
      subscriptionId: 'sub_new',
      customerId: 'cus_1',
      tokenId: 'tok_1',
      productIds: ['prd_1'],
      totalBillingCycles: null,
      startTime: undefined,
      state: 'ACTIVE',
      at: MADE_AT,
      source: 'api',
    });
    assert.equal(handover.clockNow, undefined);
    assert.equal(price, undefined, 'an existing product: its price is not the creation’s to tell');
  });

  it('on a test clock: makes the customer and product on it, reads the clock after QFPay made it, at its time', async () => {
    const { steps, calls, handedOver } = recording('UNKNOWN');
    const made = await createQfpaySubscription(
      {
        customer: { create: { name: 'Ada', email: 'ada@example.com' } },
        product: { create: PRODUCT },
        tokenId: 'tok_1',
        options: { testClock: 'clock_1' },
      },
      steps,
    );
    assert.deepEqual(calls, [
      'ensureCustomer clock_1',
      'ensureProduct clock_1',
      'list cus_new',
      'findOrCreate prd_new not sub_old',
      'clockNow clock_1',
      'handOver sub_new',
    ]);
    assert.equal(made.customerId, 'cus_new');
    const [, handover, price] = handedOver()!;
    assert.equal(handover.fact.at, CLOCK_NOW);
    assert.equal(handover.clockNow, CLOCK_NOW);
    assert.equal(handover.fact.kind === 'created' && handover.fact.state, undefined, 'UNKNOWN is no state');
    assert.deepEqual(price, { amount: 3000, currency: 'HKD', interval: 'monthly', intervalCount: 1 });
  });
});

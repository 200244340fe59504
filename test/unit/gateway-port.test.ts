/**
 * The engine's side of the gateway port, without a gateway: engine ids and workflow ids, the
 * decisions that read capabilities (no charge and an escalation at once without a manual charge,
 * refusals of changes the gateway has no call for, a gateway's pause without a timed resume), and
 * the activities that route each call by the subscription's id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createGatewayActivities } from '../../src/activities/gateways';
import type { SyncResult } from '../../src/activities/contracts';
import { qfpayAdapter, type QfpayActivities } from '../../src/gateways/qfpay/activities';
import { qfpayGateway } from '../../src/gateways/qfpay';
import {
  GatewayError,
  WebhookRejection,
  layeredEnv,
  type GatewayAdapter,
  type GatewayCapabilities,
  type GatewayModule,
} from '../../src/gateways/port';
import {
  QFPAY_CAPABILITIES,
  engineSubscriptionId,
  splitSubscriptionId,
} from '../../src/domain/gateway-profile';
import { GATEWAY_MODULES, gatewayModule, gatewayNames, gatewayProfile } from '../../src/gateways/registry';
import { signNotification } from '../../src/gateways/qfpay/signing';
import { decide, settle } from '../../src/domain/decide';
import { intentProblem } from '../../src/domain/intents/intents';
import { subscriptionIdOfWorkflow, subscriptionWorkflowId } from '../../src/workflows/definitions';
import type { EngineState, IntentRequest } from '../../src/domain/engine-state';
import { DAY, HOUR, MINUTE, T, order, pastDue, pastDueSync, paymentNotice } from '../helpers/engine-states';
import { DEFAULT_DUNNING_POLICY, finalActionProblem } from '../../src/domain/episode/dunning';
import { applyFactToState, enqueueIntent } from '../../src/domain/engine-state';
import { afterChange } from '../../src/domain/intents/intents';

const NO_CHARGE: GatewayCapabilities = {
  ...QFPAY_CAPABILITIES,
  manualCharge: false,
  pause: true,
  changeToken: false,
  changeCycles: false,
  changeProducts: false,
  recovery: 'the gateway retries the card daily until the invoice is due',
};

function onGateway(s: EngineState, capabilities: GatewayCapabilities = NO_CHARGE): EngineState {
  return { ...s, gateway: { name: 'testpay', capabilities } };
}

void describe('the gateway port, engine side', () => {
  void it('names subscriptions and their workflows by gateway; QFPay ids stay bare', () => {
    assert.equal(engineSubscriptionId('qfpay', 'sub_1'), 'sub_1');
    assert.equal(engineSubscriptionId('qorepay', 'tpl~cli'), 'qorepay:tpl~cli');
    assert.deepEqual(splitSubscriptionId('sub_1'), { gateway: 'qfpay', gatewayId: 'sub_1' });
    assert.deepEqual(splitSubscriptionId('madfintech:ord:1'), { gateway: 'madfintech', gatewayId: 'ord:1' });
    assert.equal(subscriptionWorkflowId('sub_1'), 'qfpay-subscription:sub_1');
    assert.equal(subscriptionWorkflowId('qorepay:tpl~cli'), 'qorepay-subscription:tpl~cli');
    for (const id of ['sub_1', 'qorepay:tpl~cli', 'madfintech:o-1:x'])
      assert.equal(subscriptionIdOfWorkflow(subscriptionWorkflowId(id)), id);
    assert.equal(subscriptionIdOfWorkflow('merchant-event:evt_1'), undefined);
    assert.equal(gatewayNames()[0], 'qfpay');
    assert.deepEqual(gatewayProfile('qfpay')?.capabilities, QFPAY_CAPABILITIES);
    assert.equal(gatewayProfile('nosuchgateway'), undefined);
  });

  void it('QFPay is a gateway module like the others: one registry line, its webhook read through the port', () => {
    assert.deepEqual(
      GATEWAY_MODULES.map((m) => m.name),
      ['qfpay', 'qorepay', 'madfintech'],
    );
    assert.equal(gatewayModule('qfpay'), qfpayGateway);
    for (const module of GATEWAY_MODULES) {
      assert.ok(module.variables.length > 0, `${module.name} lists its variables`);
      assert.equal(module.configured({}), false, `${module.name} needs its variables`);
    }
    const env = { QFPAY_BASE_URL: 'http://127.0.0.1:9', QFPAY_APP_KEY: 'k'.repeat(16) };
    assert.ok(qfpayGateway.configured(env));
    const webhook = qfpayGateway.webhook(env);
    const body = JSON.stringify({
      notify_type: 'subscription',
      subscription_id: 'sub_0f1e2d3c',
      state: 'PAST_DUE',
      sysdtm: '2025-01-31 12:00:00',
    });
    const reading = webhook.read(
      Buffer.from(body),
      { 'x-qf-sign': signNotification(body, env.QFPAY_APP_KEY) },
      T,
    );
    assert.equal(reading.kind, 'facts');
    assert.equal(reading.type, 'subscription');
    assert.deepEqual(reading.kind === 'facts' && reading.facts.map((f) => [f.kind, f.subscriptionId]), [
      ['state', 'sub_0f1e2d3c'],
    ]);
    assert.throws(
      () => webhook.read(Buffer.from(body), { 'x-qf-sign': 'bad' }, T),
      (err) => err instanceof WebhookRejection && err.status === 401,
    );
    assert.deepEqual(webhook.ack, { status: 200, contentType: 'text/plain', body: 'SUCCESS' });
    // Its creation is from customers, products and tokens: the plan route names why not.
    assert.match(qfpayGateway.createInputIssues({} as never)[0]?.message ?? '', /POST \/v1\/subscriptions/);
  });

  void it("reads a layered environment's top first, and its base as it is when read", () => {
    const base: Record<string, string | undefined> = { A: 'base', B: 'base' };
    const env = layeredEnv(base, { A: 'top' });
    base.C = 'added later';
    assert.deepEqual([env.A, env.B, env.C, env.D], ['top', 'base', 'added later', undefined]);
    assert.ok('C' in env && 'A' in env && !('D' in env));
  });

  void it('never charges without a manual charge: the episode escalates at once and leaves the order to the gateway', () => {
    const withCharge = settle(pastDue(), T + MINUTE);
    assert.ok(withCharge.episode && withCharge.episode.schedule.length > 0, 'QFPay plans attempts');

    const s = settle(onGateway(pastDue()), T + MINUTE);
    const episode = s.episodeHistory.at(-1) ?? s.episode;
    assert.equal(episode?.outcome, 'exhausted');
    assert.match(episode?.outcomeDetail ?? '', /testpay has no manual charge/);
    assert.equal(episode?.finalAction?.action, 'leave_to_gateway', 'never cancelled for a failure');
    // What the merchant hears: the escalation, not a charge.
    assert.ok(
      s.outbox.some((e) => e.type.includes('dunning')),
      JSON.stringify(s.outbox.map((e) => e.type)),
    );
    for (let now = T + MINUTE; now < T + 40 * DAY; now += 6 * HOUR) {
      const action = decide(settle(s, now), now, { continueAsNewSuggested: false });
      assert.notEqual(action.kind, 'charge', `at +${(now - T) / HOUR} h`);
    }
  });

  void it('times the escalation against the gateway’s own recovery: none while it retries, all when it has ended unpaid', () => {
    const timed: GatewayCapabilities = { ...NO_CHARGE, recoveryEndsAfterMs: 2 * DAY };
    const policy = { ...DEFAULT_DUNNING_POLICY, finalAction: 'cancel' as const };
    const escalations = (s: EngineState) =>
      s.outbox.filter((e) => e.type === 'subscription.dunning_exhausted');
    const ask = (s: EngineState, now: number) => decide(s, now, { continueAsNewSuggested: false });

    // The first decline: an episode waits for the gateway's retries, with no charge and no escalation.
    let s = settle(onGateway(pastDue(policy), timed), T + MINUTE);
    assert.equal(s.episode?.stage, 'retrying');
    assert.deepEqual(s.episode?.schedule, []);
    assert.deepEqual(escalations(s), [], 'nothing escalates while the gateway still retries');
    s = { ...s, outbox: [] }; // the decline's own events, delivered
    const checkAt = s.episode?.recoveryCheckAt ?? 0;
    assert.ok(checkAt > T + 2 * DAY, `the engine looks after the gateway's last try (${checkAt - T})`);
    for (let now = T + MINUTE; now < checkAt; now += 3 * HOUR) {
      s = settle(s, now);
      assert.deepEqual(escalations(s), [], `at +${(now - T) / HOUR} h`);
      const action = ask(s, now);
      assert.ok(
        action.kind === 'wait' && action.until !== null && action.until <= checkAt,
        JSON.stringify(action),
      );
    }

    // The gateway says its recovery ended unpaid (MadFintech's third decline, QorePay's due date):
    // every step escalates now, and the merchant's cancel runs after a look at the order.
    const unpaid = applyFactToState(
      s,
      { ...pastDueSync(T + 2 * DAY), remote: { ...pastDueSync().remote, state: 'UNPAID' } },
      T + 2 * DAY,
    );
    const ended = settle({ ...unpaid, lastSyncAt: T + 2 * DAY, syncWanted: false }, T + 2 * DAY);
    assert.deepEqual(
      escalations(ended).map((e) => (e.data as { step?: string }).step),
      ['notify_customer', 'notify_operations', undefined],
    );
    assert.equal(ended.episode?.finalAction?.action, 'cancel');
    assert.match(ended.episode?.outcomeDetail ?? '', /testpay's own recovery ended unpaid/);
    assert.deepEqual(ask(ended, T + 2 * DAY + MINUTE), {
      kind: 'cancel',
      cause: 'final_action',
      orderId: order(2),
    });

    // Paid by the gateway's retry instead: recovered, and never escalated.
    const paid = applyFactToState(s, paymentNotice(2, T + DAY), T + DAY);
    const recovered = settle(paid, T + DAY);
    assert.equal(recovered.episodeHistory.at(-1)?.outcome, 'recovered');
    assert.deepEqual(escalations(recovered), []);
    assert.ok(recovered.outbox.some((e) => e.type === 'subscription.dunning_recovered'));

    // The gateway says nothing by the time its recovery should have ended: the engine asks it, and
    // asks again a day later while it still retries; it escalates only on the gateway's word.
    const silent = settle(s, checkAt);
    assert.equal(silent.syncWanted, true);
    assert.deepEqual(escalations(silent), []);
    assert.ok((silent.episode?.recoveryCheckAt ?? 0) >= checkAt + DAY - MINUTE, 'the next look is a day on');
    const stillRetrying = settle({ ...silent, syncWanted: false, lastSyncAt: checkAt }, checkAt + HOUR);
    assert.equal(stillRetrying.syncWanted, false);
    assert.equal(stillRetrying.episode?.stage, 'retrying');
  });

  void it('keeps waiting through the gateway’s retries when the next billing time it reports is its next try', () => {
    const timed: GatewayCapabilities = { ...NO_CHARGE, recoveryEndsAfterMs: 2 * DAY };
    // MadFintech reports the next try as the next charge date while it retries.
    const nextTry = {
      ...pastDueSync(T + 1),
      remote: { ...pastDueSync().remote, nextBillingTime: T + DAY },
    };
    let s = applyFactToState(onGateway(pastDue(), timed), nextTry, T + 1);
    s = settle(s, T + MINUTE);
    assert.equal(s.episode?.stage, 'retrying');
    assert.equal(s.episode?.nextBillingTime, T + DAY);
    const later = settle(s, T + DAY + HOUR);
    assert.equal(later.episode?.stage, 'retrying', JSON.stringify(later.episodeHistory.at(-1)));
    // A new cycle still ends it (the order was not recovered before it).
    const nextCycle = applyFactToState(later, paymentNotice(3, T + 30 * DAY), T + 30 * DAY);
    assert.equal(settle(nextCycle, T + 30 * DAY).episodeHistory.at(-1)?.outcome, 'lost');
  });

  void it('refuses a final action a gateway’s recovery leaves nothing to do for; allows a cancel once recovery is timed', () => {
    const untimed = { name: 'testpay', ...NO_CHARGE };
    const timed = { ...untimed, recoveryEndsAfterMs: 2 * DAY };
    assert.match(finalActionProblem('cancel', untimed) ?? '', /must be leave_to_gateway/);
    assert.equal(finalActionProblem('cancel', timed), undefined);
    assert.equal(finalActionProblem('leave_to_gateway', timed), undefined);
    assert.match(finalActionProblem('hold_dunning', timed) ?? '', /no manual charge to hold/);
    assert.equal(finalActionProblem('hold_dunning', { name: 'qfpay', ...QFPAY_CAPABILITIES }), undefined);
  });

  void it('sets one subscription’s price where the gateway prices a subscriber, and refuses it elsewhere', () => {
    const price = { kind: 'change_price' as const, amount: 3100, currency: 'USD' };
    const problem = (s: EngineState, intent: IntentRequest) =>
      intentProblem(s, intent, T + MINUTE, { queued: false });
    assert.match(
      problem(settle(pastDue(), T + MINUTE), price) ?? '',
      /qfpay cannot change one subscription’s price/,
    );
    assert.match(
      problem(onGateway(pastDue()), price) ?? '',
      /testpay cannot change one subscription’s price/,
    );
    const priced = onGateway(pastDue(), { ...NO_CHARGE, changePrice: true });
    assert.equal(problem(priced, price), undefined);
    assert.match(problem(priced, { ...price, amount: 0 }) ?? '', /amount must be an integer from 1/);
    assert.match(problem(priced, { ...price, amount: 12.5 }) ?? '', /amount must be an integer/);
    assert.match(problem(priced, { ...price, currency: 'usd' }) ?? '', /three-letter ISO 4217/);
    const ended = { ...priced, snapshot: { ...priced.snapshot, state: 'CANCELLED' as const } };
    assert.match(problem(ended, price) ?? '', /CANCELLED; its price cannot change/);

    const queued = enqueueIntent(priced, price).state;
    const action = decide(queued, T + MINUTE, { continueAsNewSuggested: false });
    assert.deepEqual(action, {
      kind: 'change_price',
      intentId: queued.intents[0]!.id,
      amount: 3100,
      currency: 'USD',
    });
    if (action.kind !== 'change_price') return;
    const done = afterChange(queued, action, { ok: true, value: { at: T + MINUTE } }, T + MINUTE);
    assert.deepEqual(done.resolved.at(-1), {
      id: action.intentId,
      ok: true,
      value: { amount: 3100, currency: 'USD' },
    });
    assert.equal(done.syncWanted, true, 'the gateway’s word on the plan follows');
  });

  void it('refuses the changes a gateway has no call for, with its recovery for a charge-now', () => {
    const s = onGateway(settle(pastDue(), T + MINUTE));
    const refused: Array<[IntentRequest, RegExp]> = [
      [{ kind: 'charge_now' }, /testpay cannot charge an order on request: the gateway retries/],
      [{ kind: 'change_token', tokenId: 'tk_new' }, /testpay cannot change a subscription’s card/],
      [{ kind: 'change_cycles', totalBillingCycles: 3 }, /testpay cannot change .* billing cycles/],
      [
        { kind: 'change_products', products: [{ productId: 'prod_b', quantity: 1 }] },
        /testpay cannot change .* plan/,
      ],
      [{ kind: 'pause', resumesAt: T + DAY }, /testpay pauses until resumed/],
    ];
    for (const [intent, reason] of refused)
      assert.match(intentProblem(s, intent, T + MINUTE, { queued: false }) ?? '', reason, intent.kind);
    assert.equal(
      intentProblem(s, { kind: 'pause', resumesAt: null }, T + MINUTE, { queued: false }),
      undefined,
    );
    assert.equal(intentProblem(s, { kind: 'cancel' }, T + MINUTE, { queued: false }), undefined);
  });

  void it('routes each activity by the subscription id, and turns a gateway refusal into a non-retryable failure', async () => {
    const calls: string[] = [];
    const adapter: GatewayAdapter = {
      name: 'testpay',
      capabilities: NO_CHARGE,
      create: async (input) => {
        calls.push(`create ${input.reference}`);
        return { subscriptionId: 'g-1', state: 'ACTIVE', reusedExisting: false, at: T };
      },
      plan: async (id) => {
        calls.push(`plan ${id}`);
        return undefined;
      },
      sync: async (id) => {
        calls.push(`sync ${id}`);
        if (id === 'gone') return { found: false, subscriptionId: id, at: T };
        return {
          found: true,
          fact: {
            kind: 'sync',
            subscriptionId: id,
            at: T,
            remote: { state: 'ACTIVE', totalBillingCycles: null, completedCycles: 1 },
            orders: [],
            source: 'query',
          },
        } satisfies SyncResult;
      },
      cancel: async (id) => {
        calls.push(`cancel ${id}`);
        if (id === 'refused') throw new GatewayError('403 forbidden', false, 403);
        if (id === 'busy') throw new GatewayError('503', true, 503);
        return { at: T };
      },
      setPaused: async (id, paused) => {
        calls.push(`paused ${id} ${paused}`);
        return { at: T };
      },
    };
    const module: GatewayModule = {
      name: 'testpay',
      label: 'TestPay',
      capabilities: NO_CHARGE,
      description: 'a test gateway',
      variables: ['TESTPAY_TOKEN'],
      configured: (env) => env.TESTPAY_TOKEN !== undefined,
      createInputIssues: () => [],
      adapter: () => adapter,
      webhook: () => {
        throw new Error('not used');
      },
      emulatorUrl: () => undefined,
      startEmulator: () => Promise.reject(new Error('not used')),
    };
    // A bare `sub_…` id is QFPay's: routed to QFPay's module, whose adapter wraps its activities
    // (here a double that records each call).
    const recorded = new Proxy({} as QfpayActivities, {
      get: (_t, name) => (id: unknown) => {
        calls.push(`qfpay.${String(name)} ${typeof id === 'string' ? id : JSON.stringify(id)}`);
        return Promise.resolve({ at: T });
      },
    });
    const qfpay: GatewayModule = { ...qfpayGateway, adapter: () => qfpayAdapter(recorded) };
    const acts = createGatewayActivities({
      modules: [qfpay, module],
      env: { TESTPAY_TOKEN: 't', QFPAY_BASE_URL: 'http://127.0.0.1:9' },
    });
    const run = <R>(fn: () => Promise<R>): Promise<R> => new MockActivityEnvironment().run(fn) as Promise<R>;

    await run(() => acts.cancelSubscription('sub_1'));
    const synced = await run(() => acts.syncSubscription('testpay:g-1'));
    assert.equal(synced.found && synced.fact.subscriptionId, 'testpay:g-1', 'answers under the engine id');
    const gone = await run(() => acts.syncSubscription('testpay:gone'));
    assert.deepEqual(gone, { found: false, subscriptionId: 'testpay:gone', at: T });
    const created = await run(() =>
      acts.createOnGateway({
        gateway: 'testpay',
        create: {
          reference: 'ref-1',
          customer: { id: 'c1' },
          plan: {
            name: 'p',
            amount: 100,
            currency: 'USD',
            interval: { unit: 'month', count: 1 },
            totalCycles: null,
          },
        },
      }),
    );
    assert.equal(created.subscriptionId, 'testpay:g-1');
    await run(() => acts.setPausedAtGateway({ subscriptionId: 'testpay:g-1', paused: true }));
    assert.deepEqual(calls, [
      'qfpay.cancelSubscription sub_1',
      'sync g-1',
      'sync gone',
      'create ref-1',
      'paused g-1 true',
    ]);

    const failure = async (call: () => Promise<unknown>) => {
      try {
        await run(call);
      } catch (err) {
        assert.ok(err instanceof ApplicationFailure, String(err));
        return err;
      }
      assert.fail('expected a failure');
    };
    const refused = await failure(() => acts.cancelSubscription('testpay:refused'));
    assert.equal(refused.nonRetryable, true);
    assert.equal(refused.type, 'GatewayRefused');
    const busy = await failure(() => acts.cancelSubscription('testpay:busy'));
    assert.equal(busy.nonRetryable, false);
    const noCharge = await failure(() =>
      acts.chargeOrder({ subscriptionId: 'testpay:g-1', orderId: 'o', notAfter: T + HOUR }),
    );
    assert.equal(noCharge.nonRetryable, true);
    assert.match(noCharge.message, /testpay has no manual charge/);
    const unknown = await failure(() => acts.syncSubscription('nosuch:x'));
    assert.equal(unknown.nonRetryable, true);
    const unconfigured = createGatewayActivities({ modules: [module], env: {} });
    const missing = await failure(() => unconfigured.syncSubscription('testpay:g-1'));
    assert.equal(missing.type, 'GatewayNotConfigured');
    assert.equal(missing.nonRetryable, false, 'a worker configured later can still do it');

    // QFPay is reached through its adapter like the others: every subscription call reaches its
    // activities, and what it lacks is refused by capability.
    calls.length = 0;
    await run(() => acts.syncSubscription('sub_2', { sinceSequence: 3 }));
    await run(() => acts.updateSubscription({ subscriptionId: 'sub_2', tokenId: 'tk_1' }));
    await run(() => acts.chargeOrder({ subscriptionId: 'sub_2', orderId: 'o2', notAfter: T + HOUR }));
    await run(() => acts.confirmCharge({ subscriptionId: 'sub_2', orderId: 'o2', sentAt: T }));
    assert.deepEqual(calls, [
      'qfpay.syncSubscription sub_2',
      'qfpay.updateSubscription {"subscriptionId":"sub_2","tokenId":"tk_1"}',
      'qfpay.chargeOrder {"subscriptionId":"sub_2","orderId":"o2","notAfter":' + String(T + HOUR) + '}',
      'qfpay.confirmCharge {"subscriptionId":"sub_2","orderId":"o2","sentAt":' + String(T) + '}',
    ]);
    const noPause = await failure(() => acts.setPausedAtGateway({ subscriptionId: 'sub_2', paused: true }));
    assert.equal(noPause.type, 'GatewayCapability');
    assert.match(noPause.message, /qfpay has no pause/);
  });
});

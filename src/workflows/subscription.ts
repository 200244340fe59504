/**
 * One long-running workflow per QFPay subscription. It mirrors QFPay's lifecycle from
 * notifications (signals), reconciles with QFPay's query API when a notification is missing,
 * runs deadline-aware dunning for failed orders, and serves the merchant's updates.
 *
 * The decisions live in pure modules (lifecycle, dunning, episode); this file only wires them to
 * Temporal: handlers, timers, activities, search attributes, continue-as-new.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  metricMeter,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { ChargeOutcome, EngineActivities, QfpayActivities } from '../activities/contracts';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  cancelUpdate,
  changeDunningPolicyUpdate,
  changePaymentTokenUpdate,
  changeTotalBillingCyclesUpdate,
  chargeNowUpdate,
  factSignal,
  handoverSignal,
  snapshotQuery,
  syncNowUpdate,
  type CarriedState,
  type ChargeResult,
  type DunningEpisode,
  type MerchantEvent,
  type MerchantEventData,
  type MerchantEventType,
  type SubscriptionView,
  type SubscriptionWorkflowInput,
} from './definitions';
import {
  DEFAULT_DUNNING_POLICY,
  InvalidDunningPolicyError,
  checkPolicyOverride,
  attemptDeadline,
  isRetryableFailure,
  mergePolicy,
  type DunningPolicy,
} from './dunning';
import { decideOpen, episodeEndedBy, isChargeableState, nextAttemptTime, openEpisode } from './episode';
import {
  applyFact,
  initialSnapshot,
  isTerminal,
  type Fact,
  type OrderRecord,
  type SubscriptionSnapshot,
  type TransitionRecord,
} from './lifecycle';

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
const DEFAULT_RECONCILE_GRACE_MS = 15 * 60_000;
const MAX_EPISODE_HISTORY = 12;
const MAX_RECONCILES_PER_BILLING = 6;

/** Short QFPay calls: retried with backoff; a permanent QFPay error is not retried. */
const qfpay = proxyActivities<QfpayActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 8 },
});
const engine = proxyActivities<EngineActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/** A charge proxy whose attempt and retries cannot run past `deadline` (epoch ms). */
function chargeActivities(deadline: number, now: number) {
  const budgetMs = Math.max(1_000, deadline - now);
  return proxyActivities<QfpayActivities>({
    scheduleToCloseTimeout: budgetMs,
    startToCloseTimeout: Math.min(30_000, budgetMs),
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
  });
}

function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export async function subscriptionWorkflow(input: SubscriptionWorkflowInput): Promise<SubscriptionView> {
  const subscriptionId = input.subscriptionId;
  const info = workflowInfo();
  let options = input.options ?? {};
  const maxHistoryEvents = () => options.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const reconcileGraceMs = () => options.reconcileGraceMs ?? DEFAULT_RECONCILE_GRACE_MS;
  const carried: CarriedState | undefined = input.carried;

  let snapshot: SubscriptionSnapshot = carried?.snapshot ?? initialSnapshot(subscriptionId);
  let policy: DunningPolicy = carried?.policy ?? input.policy ?? DEFAULT_DUNNING_POLICY;
  let episode: DunningEpisode | null = carried?.episode ?? null;
  let episodeHistory: DunningEpisode[] = carried?.episodeHistory ?? [];
  let eventSeq = carried?.eventSeq ?? 0;
  let billingPausedByMerchant = carried?.billingPausedByMerchant ?? false;
  let lastSyncAt: number | null = carried?.lastSyncAt ?? null;
  // Reconciliation of a billing time with no payment result: asked at grace, then with backoff.
  let reconcile = carried?.reconcile ?? { billingTime: null as number | null, attempts: 0 };
  const continuedAsNew = carried?.continuedAsNew ?? 0;

  let syncWanted = carried === undefined; // a new run learns billing times from QFPay first
  let dirty = false;
  let retryNow = false;
  let chargeInFlight = false;
  let attemptScope: CancellationScope | undefined;
  let notFound = false;
  let syncFailures = 0;
  let syncRetryAt: number | null = null;
  const outbox: MerchantEvent[] = [];

  /** When to ask QFPay about billing time `billing`, or undefined once asking has given up. */
  function reconcileTime(billing: number): number | undefined {
    const attempts = reconcile.billingTime === billing ? reconcile.attempts : 0;
    if (attempts >= MAX_RECONCILES_PER_BILLING) return undefined;
    return billing + reconcileGraceMs() * 2 ** attempts;
  }

  const view = (): SubscriptionView => ({
    subscriptionId,
    workflowId: info.workflowId,
    snapshot,
    dunning: { policy, episode, history: episodeHistory },
    billingPausedByMerchant,
    origin: input.origin,
    continuedAsNew,
    lastSyncAt,
  });

  /** A new event with a deterministic, unique id (the sequence survives continue-as-new). */
  function merchantEvent<T extends MerchantEventType>(type: T, data: MerchantEventData<T>): MerchantEvent {
    eventSeq += 1;
    return {
      id: `evt_${subscriptionId}_${info.firstExecutionRunId.slice(0, 8)}_${eventSeq}`,
      type,
      created_at: new Date().toISOString(),
      subscription_id: subscriptionId,
      data,
    } as MerchantEvent;
  }

  function emit<T extends MerchantEventType>(type: T, data: MerchantEventData<T>): void {
    if (options.merchantEvents) outbox.push(merchantEvent(type, data));
  }

  function onTransition(t: TransitionRecord): void {
    emit('subscription.state_changed', { from: t.from, to: t.to, cause: t.cause });
    if (t.to === 'CANCELLED' || t.to === 'COMPLETED' || t.to === 'INCOMPLETE_EXPIRED') {
      emit('subscription.ended', { final_state: t.to });
    }
  }

  /**
   * The time of a fact the engine itself caused (a cancel, a token change, a charge result): after
   * every fact it has seen, whatever our clock says, since it acted on them. This keeps its own
   * actions ordered after QFPay's facts when QFPay's clock runs ahead of the worker's.
   */
  function causalAt(at: number): number {
    return Math.max(at, (snapshot.lastFactAt ?? 0) + 1);
  }

  /** Applies one fact through the pure lifecycle module and reacts to what changed. */
  function apply(fact: Fact): void {
    if (fact.subscriptionId !== subscriptionId) return;
    const result = applyFact(snapshot, fact);
    snapshot = result.snapshot;
    if (result.outcome === 'duplicate' || result.outcome === 'stale') return;
    if (result.transition) onTransition(result.transition);
    if (fact.kind === 'payment') {
      emit(fact.succeeded ? 'subscription.payment_succeeded' : 'subscription.payment_failed', {
        order_id: fact.orderId,
        sequence_no: fact.sequenceNo,
        amount: fact.amount,
        currency: fact.currency,
        respcd: fact.respcd,
      });
      // Notifications do not carry the next billing time: learn it from QFPay.
      syncWanted = true;
    }
    if (result.reconcile !== undefined || snapshot.reconcile !== null) syncWanted = true;
    dirty = true;
  }

  /**
   * Asks QFPay and applies what it says. A QFPay outage must not fail the subscription's
   * workflow: after the activity's own retries, the main loop tries again later with backoff
   * (handlers that need the answer pass `throwOnFailure`).
   */
  async function sync({ throwOnFailure = false } = {}): Promise<boolean> {
    let result: Awaited<ReturnType<QfpayActivities['syncSubscription']>>;
    try {
      result = await qfpay.syncSubscription(subscriptionId);
    } catch (err) {
      if (throwOnFailure || isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      syncFailures += 1;
      syncRetryAt = Date.now() + Math.min(60 * 60_000, 60_000 * 2 ** (syncFailures - 1));
      log.warn('sync with QFPay failed; trying again later', {
        subscriptionId,
        error: String(err.cause ?? err),
      });
      return false;
    }
    syncFailures = 0;
    syncRetryAt = null;
    lastSyncAt = Date.now();
    if (!result.found) {
      notFound = snapshot.factsApplied === 0;
      log.warn('QFPay does not know this subscription', { subscriptionId });
      return true;
    }
    apply(result.fact);
    return true;
  }

  function updateSearchAttributes(): void {
    const nextAttempt = episode && episode.stage === 'retrying' ? nextAttemptTime(episode) : undefined;
    const wanted: SearchAttributeUpdatePair[] = [
      { key: SEARCH_ATTRIBUTES.subscriptionId, value: subscriptionId },
      { key: SEARCH_ATTRIBUTES.state, value: snapshot.state },
      {
        key: SEARCH_ATTRIBUTES.dunningStage,
        value: billingPausedByMerchant ? 'paused' : (episode?.stage ?? 'none'),
      },
      { key: SEARCH_ATTRIBUTES.dunningAttempts, value: episode?.attempts.length ?? 0 },
    ];
    if (snapshot.customerId) wanted.push({ key: SEARCH_ATTRIBUTES.customerId, value: snapshot.customerId });
    if (snapshot.nextBillingTime !== null && !isTerminal(snapshot.state)) {
      wanted.push({ key: SEARCH_ATTRIBUTES.nextBillingTime, value: new Date(snapshot.nextBillingTime) });
    } else {
      wanted.push({ key: SEARCH_ATTRIBUTES.nextBillingTime, value: null });
    }
    wanted.push({
      key: SEARCH_ATTRIBUTES.dunningNextAttemptAt,
      value: nextAttempt === undefined ? null : new Date(nextAttempt),
    });
    const current = workflowInfo().typedSearchAttributes;
    const changed = wanted.filter((pair) => {
      const have = current.get(pair.key as never) as unknown;
      const want = pair.value as unknown;
      if (want === null) return have !== undefined;
      if (want instanceof Date) return !(have instanceof Date) || have.getTime() !== want.getTime();
      return have !== want;
    });
    if (changed.length > 0) upsertSearchAttributes(changed);

    const cycles =
      snapshot.totalBillingCycles === null
        ? `${snapshot.completedCycles} cycles paid`
        : `${snapshot.completedCycles}/${snapshot.totalBillingCycles} cycles`;
    const dunning = episode
      ? ` · dunning ${episode.stage} (${episode.attempts.length}/${episode.schedule.length} attempts, order ${episode.sequenceNo})`
      : '';
    setCurrentDetails(
      `**${snapshot.state}** · ${cycles} · next billing ${iso(snapshot.nextBillingTime)}${dunning}` +
        (billingPausedByMerchant ? ' · billing paused by merchant' : ''),
    );
  }

  async function flushOutbox(): Promise<void> {
    while (outbox.length > 0) {
      const event = outbox.shift()!;
      try {
        await startChild(WORKFLOW_TYPES.merchantEventDelivery, {
          workflowId: `merchant-event:${event.id}`,
          args: [event],
          parentClosePolicy: ParentClosePolicy.ABANDON,
        });
      } catch (err) {
        // Already started (a replayed emit after a failure): the event is on its way.
        log.warn('merchant event not started', { eventId: event.id, error: String(err) });
      }
    }
  }

  function chargeFact(outcome: ChargeOutcome): Fact | undefined {
    if (outcome.outcome === 'pending') return undefined;
    return {
      kind: 'payment',
      subscriptionId,
      orderId: outcome.orderId,
      sequenceNo: outcome.sequenceNo,
      succeeded: outcome.outcome === 'succeeded',
      respcd: outcome.respcd,
      respmsg: outcome.respmsg,
      amount: outcome.amount,
      currency: outcome.currency,
      syssn: outcome.syssn,
      at: causalAt(outcome.at),
      triggerBy: 'manual',
      source: 'engine',
    };
  }

  /**
   * One manual charge bounded by `deadline`; a pending answer is confirmed by query, never
   * repeated. Returns what QFPay said, or an error description when the deadline ran out.
   */
  async function chargeWithin(
    orderId: string,
    deadline: number,
  ): Promise<{ outcome?: ChargeOutcome; error?: string }> {
    chargeInFlight = true;
    try {
      const acts = chargeActivities(deadline, Date.now());
      let outcome = await acts.chargeOrder({ subscriptionId, orderId });
      if (outcome.outcome === 'pending') {
        outcome = await chargeActivities(deadline, Date.now()).confirmCharge({ subscriptionId, orderId });
      }
      const fact = chargeFact(outcome);
      if (fact) apply(fact);
      return { outcome };
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const detail =
        cause instanceof ApplicationFailure ? `${cause.type ?? 'error'}: ${cause.message}` : String(cause);
      syncWanted = true; // whatever happened, ask QFPay what is true now
      return { error: detail };
    } finally {
      chargeInFlight = false;
    }
  }

  function closeEpisode(outcome: NonNullable<DunningEpisode['outcome']>, detail: string): void {
    if (!episode) return;
    const closed: DunningEpisode = {
      ...episode,
      stage: outcome,
      outcome,
      outcomeDetail: detail,
      closedAt: Date.now(),
    };
    if (outcome === 'recovered') {
      emit('subscription.dunning_recovered', { order_id: closed.orderId, attempts: closed.attempts.length });
    }
    // Not emitted on replay; exported on the worker's metrics endpoint (docs/observability.md).
    metricMeter.createCounter('dunning_episodes_closed', 'episodes').add(1, { outcome });
    episodeHistory = [...episodeHistory, closed].slice(-MAX_EPISODE_HISTORY);
    episode = null;
    dirty = true;
  }

  async function escalate(current: DunningEpisode): Promise<void> {
    episode = { ...current, stage: 'escalating' };
    updateSearchAttributes();
    for (const step of policy.escalation) {
      if (episode.escalationStepsDone.includes(step)) continue;
      const event = merchantEvent('subscription.dunning_exhausted', {
        order_id: current.orderId,
        attempts: current.attempts.length,
        final_action: policy.finalAction,
        step,
      });
      try {
        await engine.runEscalationStep({ step, event });
      } catch (err) {
        log.warn('escalation step failed', { step, error: String(err) });
      }
      episode = { ...episode, escalationStepsDone: [...episode.escalationStepsDone, step] };
    }
    emit('subscription.dunning_exhausted', {
      order_id: current.orderId,
      attempts: current.attempts.length,
      final_action: policy.finalAction,
    });
    if (policy.finalAction === 'cancel' && !isTerminal(snapshot.state)) {
      try {
        const { at } = await qfpay.cancelSubscription(subscriptionId);
        apply({ kind: 'state', subscriptionId, state: 'CANCELLED', at: causalAt(at), source: 'engine' });
      } catch (err) {
        if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
        log.error('final action cancel failed', { subscriptionId, error: String(err.cause ?? err) });
        syncWanted = true;
      }
    } else if (policy.finalAction === 'pause_billing') {
      billingPausedByMerchant = true;
    }
    closeEpisode('exhausted', `attempts exhausted; final action ${policy.finalAction}`);
  }

  /** Advances the dunning episode by one step if one is due. Returns when nothing is due now. */
  async function driveDunning(): Promise<void> {
    if (!episode) {
      const decision = decideOpen(
        snapshot,
        episodeHistory.map((e) => e.orderId),
        billingPausedByMerchant,
      );
      if (!decision.open) {
        if (decision.reason === 'needs_next_billing_time' && lastSyncAt === null) syncWanted = true;
        return;
      }
      episode = openEpisode(decision.order, decision.nextBillingTime, Date.now(), policy);
      dirty = true;
    }
    const ended = episodeEndedBy(snapshot, episode, Date.now());
    if (ended.ended) {
      closeEpisode(ended.outcome, ended.detail);
      return;
    }
    if (episode.stage === 'escalating') {
      await escalate(episode);
      return;
    }
    let due = nextAttemptTime(episode);
    if (retryNow && due !== undefined && Date.now() + policy.minAttemptWindow <= episode.deadline) {
      due = Math.min(due, Date.now());
    }
    retryNow = false;
    if (due === undefined) {
      await escalate(episode);
      return;
    }
    if (due > Date.now() || chargeInFlight) return;

    const current = episode;
    const attemptNo = current.attempts.length + 1;
    const startedAt = Date.now();
    let result: { outcome?: ChargeOutcome; error?: string };
    attemptScope = new CancellationScope();
    try {
      result = await attemptScope.run(() => chargeWithin(current.orderId, current.deadline));
    } catch (err) {
      if (!isCancellation(err)) throw err;
      result = { error: 'cancelled' };
    } finally {
      attemptScope = undefined;
    }
    const record = {
      attempt: attemptNo,
      scheduledAt: due,
      startedAt,
      finishedAt: Date.now(),
      result: result.outcome?.outcome ?? (result.error === 'cancelled' ? 'skipped' : 'error'),
      respcd: result.outcome?.respcd,
      detail: result.error,
    } as const;
    if (episode?.orderId !== current.orderId) return; // closed while the attempt ran
    // Charges made early (retryNow) take the slot of the next scheduled attempt.
    episode = { ...episode, attempts: [...episode.attempts, record] };
    emit('subscription.dunning_attempt', {
      order_id: current.orderId,
      attempt: attemptNo,
      scheduled_at: new Date(due).toISOString(),
      result: record.result,
      respcd: record.respcd,
    });
    if (result.outcome?.outcome === 'failed' && !isRetryableFailure(result.outcome.respcd, policy)) {
      episode = {
        ...episode,
        stage: 'escalating',
        outcomeDetail: `failure ${result.outcome.respcd} is not worth retrying`,
      };
    }
    dirty = true;
  }

  // ---- handlers -------------------------------------------------------------------------------

  setHandler(factSignal, (fact) => apply(fact));
  setHandler(handoverSignal, (handover) => {
    // What the merchant chose at creation wins over the defaults an earlier notification started with.
    if (handover.policy) policy = handover.policy;
    if (handover.options) options = { ...options, ...handover.options };
    apply(handover.fact);
  });
  setHandler(snapshotQuery, view);

  setHandler(
    cancelUpdate,
    async (_request) => {
      attemptScope?.cancel();
      const { at } = await qfpay.cancelSubscription(subscriptionId);
      apply({ kind: 'state', subscriptionId, state: 'CANCELLED', at: causalAt(at), source: 'api' });
      if (episode) closeEpisode('stopped', 'cancelled by the merchant');
      return view();
    },
    {
      validator: (_request) => {
        if (isTerminal(snapshot.state)) {
          throw new Error(`subscription is already ${snapshot.state}; there is nothing to cancel`);
        }
      },
    },
  );

  setHandler(
    changePaymentTokenUpdate,
    async ({ tokenId }) => {
      const { at } = await qfpay.updateSubscription({ subscriptionId, tokenId });
      apply({ kind: 'token_changed', subscriptionId, tokenId, at: causalAt(at), source: 'api' });
      retryNow = episode?.stage === 'retrying'; // a new card is worth trying at once
      return view();
    },
    {
      validator: ({ tokenId }) => {
        if (typeof tokenId !== 'string' || !/^tk_\w+$/.test(tokenId))
          throw new Error('tokenId must look like tk_…');
        if (isTerminal(snapshot.state))
          throw new Error(`subscription is ${snapshot.state}; its card cannot change`);
        if (tokenId === snapshot.tokenId) throw new Error('the subscription already uses this token');
      },
    },
  );

  setHandler(
    changeTotalBillingCyclesUpdate,
    async ({ totalBillingCycles }) => {
      const { at } = await qfpay.updateSubscription({ subscriptionId, totalBillingCycles });
      apply({
        kind: 'total_cycles_changed',
        subscriptionId,
        totalBillingCycles,
        at: causalAt(at),
        source: 'api',
      });
      syncWanted = true;
      return view();
    },
    {
      validator: ({ totalBillingCycles }) => {
        if (isTerminal(snapshot.state))
          throw new Error(`subscription is ${snapshot.state}; its cycles cannot change`);
        if (totalBillingCycles === null && snapshot.totalBillingCycles !== null) {
          // QFPay drops empty parameters, so its update API cannot say "bill forever".
          throw new Error('QFPay cannot change a finite plan to infinite; create a new subscription instead');
        }
        if (totalBillingCycles !== null) {
          if (!Number.isInteger(totalBillingCycles) || totalBillingCycles < 1) {
            throw new Error('totalBillingCycles must be a positive integer or null (infinite)');
          }
          if (totalBillingCycles < snapshot.completedCycles) {
            throw new Error(
              `totalBillingCycles ${totalBillingCycles} is below the ${snapshot.completedCycles} cycles already paid`,
            );
          }
        }
      },
    },
  );

  /**
   * The last moment a manual charge of `order` may finish: the next billing time after that order
   * minus the safety margin (QFPay cancels the plan for a charge after it). `undefined` when the
   * snapshot does not know that billing time yet (a sync has not followed the failure).
   */
  function manualChargeDeadline(order: OrderRecord): number | undefined {
    if (order.sequenceNo < snapshot.lastSequenceNo) return Number.NEGATIVE_INFINITY;
    const next = snapshot.nextBillingTime;
    if (next === null || next <= order.firstAt) return undefined;
    return attemptDeadline(next, policy);
  }

  function chargeTarget(orderId: string | undefined): OrderRecord | undefined {
    const failed = snapshot.orders.filter((o) => o.status === 'FAILED');
    return orderId === undefined ? failed.at(-1) : failed.find((o) => o.orderId === orderId);
  }

  function tooLateMessage(order: OrderRecord, deadline: number): string | undefined {
    if (deadline === Number.NEGATIVE_INFINITY) {
      return `order ${order.orderId} belongs to an earlier cycle: charging it now would cancel the plan`;
    }
    if (Date.now() + policy.minAttemptWindow > deadline) {
      return 'the next billing time is too close: a charge landing after it would cancel the plan';
    }
    return undefined;
  }

  setHandler(
    chargeNowUpdate,
    async ({ orderId }): Promise<ChargeResult> => {
      const order = chargeTarget(orderId);
      if (!order)
        throw ApplicationFailure.nonRetryable('the order is no longer a failed order', 'ChargeNotAllowed');
      let deadline = manualChargeDeadline(order);
      if (deadline === undefined) {
        await sync({ throwOnFailure: true }); // learn the next billing time before charging against it
        deadline = manualChargeDeadline(order);
      }
      if (deadline === undefined) {
        throw ApplicationFailure.nonRetryable(
          'the next billing time is unknown; try again after a sync',
          'ChargeNotAllowed',
        );
      }
      const refusal = tooLateMessage(order, deadline);
      if (refusal !== undefined) throw ApplicationFailure.nonRetryable(refusal, 'ChargeNotAllowed');
      const result = await chargeWithin(order.orderId, deadline);
      if (!result.outcome) {
        throw ApplicationFailure.nonRetryable(result.error ?? 'the charge did not complete', 'ChargeFailed');
      }
      return {
        orderId: order.orderId,
        outcome: result.outcome.outcome,
        respcd: result.outcome.respcd,
        respmsg: result.outcome.respmsg,
        view: view(),
      };
    },
    {
      validator: ({ orderId }) => {
        if (!isChargeableState(snapshot.state)) {
          throw new Error(
            `a manual charge needs state PAST_DUE, UNPAID or INCOMPLETE; the subscription is ${snapshot.state}`,
          );
        }
        if (!snapshot.orders.some((o) => o.status === 'FAILED')) {
          throw new Error('the subscription has no failed order to charge');
        }
        const order = chargeTarget(orderId);
        if (!order) throw new Error(`order ${orderId ?? ''} is not a failed order of this subscription`);
        if (chargeInFlight) throw new Error('a charge for this subscription is already in progress');
        const deadline = manualChargeDeadline(order);
        const refusal = deadline === undefined ? undefined : tooLateMessage(order, deadline);
        if (refusal !== undefined) throw new Error(refusal);
      },
    },
  );

  setHandler(syncNowUpdate, async () => {
    await sync({ throwOnFailure: true });
    return view();
  });

  setHandler(
    changeDunningPolicyUpdate,
    (override) => {
      policy = mergePolicy(policy, override);
      dirty = true;
      return view();
    },
    {
      validator: (override) => {
        const checked = checkPolicyOverride(override);
        if (!checked.ok) throw new InvalidDunningPolicyError(checked.issues);
      },
    },
  );

  // ---- main loop ------------------------------------------------------------------------------

  for (;;) {
    if (syncWanted) {
      syncWanted = false;
      await sync();
    }
    if (notFound) {
      updateSearchAttributes();
      log.warn('ending: subscription unknown to QFPay', { subscriptionId });
      return view();
    }

    if (isTerminal(snapshot.state)) {
      if (episode) closeEpisode('stopped', `subscription ${snapshot.state}`);
      // Final sync: make sure QFPay agrees before the mirror closes.
      const synced = lastSyncAt !== null && (snapshot.stateAt === null || lastSyncAt >= snapshot.stateAt);
      if (synced || (syncRetryAt === null && (await sync()))) {
        if (!isTerminal(snapshot.state)) continue;
        updateSearchAttributes();
        await flushOutbox();
        await condition(allHandlersFinished);
        return view();
      }
    } else {
      await driveDunning();
    }
    updateSearchAttributes();
    await flushOutbox();

    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= maxHistoryEvents()) {
      await condition(allHandlersFinished);
      await flushOutbox();
      const next: CarriedState = {
        snapshot,
        policy,
        episode,
        episodeHistory,
        eventSeq,
        billingPausedByMerchant,
        lastSyncAt,
        continuedAsNew: continuedAsNew + 1,
        reconcile,
      };
      await continueAsNew<typeof subscriptionWorkflow>({ ...input, options, carried: next });
    }

    // Sleep until something happens: a signal/update, the next dunning attempt, or the moment a
    // billing time has passed (plus grace) with no payment result, when QFPay is asked.
    const now = Date.now();
    const wakeTimes: number[] = [];
    const attemptAt = episode?.stage === 'retrying' ? nextAttemptTime(episode) : undefined;
    if (attemptAt !== undefined) wakeTimes.push(attemptAt);
    if (episode) wakeTimes.push(episode.nextBillingTime);
    if (syncRetryAt !== null) wakeTimes.push(syncRetryAt);
    const billing = snapshot.nextBillingTime;
    const reconcileAt = billing === null ? undefined : reconcileTime(billing);
    if (reconcileAt !== undefined) wakeTimes.push(reconcileAt);
    const wakeAt = wakeTimes.length > 0 ? Math.min(...wakeTimes) : undefined;
    dirty = false;
    if (wakeAt === undefined) {
      await condition(() => dirty || syncWanted);
    } else if (wakeAt > now) {
      await condition(() => dirty || syncWanted, wakeAt - now);
    }
    if (syncRetryAt !== null && Date.now() >= syncRetryAt) {
      syncRetryAt = null;
      syncWanted = true;
    }
    if (reconcileAt !== undefined && billing === snapshot.nextBillingTime && Date.now() >= reconcileAt) {
      // The billing time passed with no payment result: ask QFPay (a notification may be lost).
      reconcile = {
        billingTime: billing,
        attempts: reconcile.billingTime === billing ? reconcile.attempts + 1 : 1,
      };
      syncWanted = true;
    }
  }
}

/**
 * One long-running workflow per QFPay subscription: a thin shell around pure decisions.
 *
 * - Signal handlers apply QFPay's facts to the state through a pure reducer (no await).
 * - Update handlers validate, queue an intent, and wait for its answer; they never touch QFPay.
 * - One loop performs every side effect, in order: it settles the state, asks `decide` for the
 *   next action, performs it, applies the result with a pure reducer, and asks again. So no two
 *   side effects ever interleave, and every decision sees the state as it is at that moment.
 *
 * The state is one plain-JSON value (`engine-state.ts`), carried whole through continue-as-new.
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
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { QfpayActivities } from '../activities/contracts';
import { decide, intentProblem, settle, type Action } from './decide';
import {
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
  type SubscriptionView,
  type SubscriptionWorkflowInput,
} from './definitions';
import {
  ENGINE_DEFAULTS,
  applyFactToState,
  applyHandover,
  enqueueIntent,
  initialState,
  takeOutcome,
  type EngineState,
  type IntentRequest,
} from './engine-state';
import {
  afterCancel,
  afterChange,
  afterCharge,
  afterConfirm,
  afterFlush,
  afterSync,
  applyPolicyChange,
  beginAction,
  refuseIntent,
  type ActionFailure,
  type Outcome,
} from './results';
import { describeSubscription, updateSearchAttributes } from './visibility';

/**
 * QFPay reads and changes: a few quick retries, then the loop's own backoff takes over, so no
 * single call holds the loop (and the merchant's updates queued behind it) for long.
 */
const qfpay = proxyActivities<QfpayActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 3 },
});

/** A charge's activity, bounded so that neither it nor a retry can start after `deadline`. */
function chargeActivities(deadline: number, now: number) {
  // `decide` starts a charge only with at least `minAttemptWindow` left: no floor is needed here.
  const budgetMs = deadline - now;
  return proxyActivities<QfpayActivities>({
    scheduleToCloseTimeout: budgetMs,
    startToCloseTimeout: Math.min(30_000, budgetMs),
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '10s' },
  });
}

/** An activity's outcome: its value, or a failure the reducers understand. Cancellation is rethrown. */
async function attempt<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    return { ok: false, failure: actionFailure(err) };
  }
}

function actionFailure(err: ActivityFailure): ActionFailure {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    return {
      message: cause.message,
      ...(cause.type ? { type: cause.type } : {}),
      ...(cause.details ? { details: [...cause.details] } : {}),
      refused: cause.nonRetryable === true,
    };
  }
  return { message: String(cause?.message ?? err.message), refused: false };
}

export async function subscriptionWorkflow(input: SubscriptionWorkflowInput): Promise<SubscriptionView> {
  const now = (): number => Date.now();
  let state: EngineState = initialState(input);
  /** Set by every handler; the loop clears it before it decides, so nothing that arrives is missed. */
  let changed = false;

  function mutate(change: (s: EngineState) => EngineState): void {
    state = change(state);
    changed = true;
  }

  const view = (): SubscriptionView => describeSubscription(state, workflowInfo().workflowId);

  // ---- handlers: signals apply facts; updates queue intents ------------------------------------

  function safeSignal<T>(apply: (s: EngineState, payload: T, at: number) => EngineState) {
    return (payload: T): void => {
      try {
        mutate((s) => apply(s, payload, now()));
      } catch (err) {
        // A payload that breaks a reducer must not poison every replay: drop it, loudly.
        log.error('signal payload dropped', { error: String(err) });
      }
    };
  }
  setHandler(factSignal, safeSignal(applyFactToState));
  setHandler(handoverSignal, safeSignal(applyHandover));
  setHandler(snapshotQuery, view);

  function intentUpdate<A extends unknown[]>(toRequest: (...args: A) => IntentRequest) {
    return {
      async handler(...args: A): Promise<Record<string, unknown>> {
        const queued = enqueueIntent(state, toRequest(...args));
        mutate(() => queued.state);
        await condition(() => state.resolved.some((r) => r.id === queued.id));
        const taken = takeOutcome(state, queued.id);
        state = taken.state;
        const outcome = taken.outcome!;
        if (!outcome.ok) {
          throw ApplicationFailure.create({
            message: outcome.message,
            type: outcome.type,
            nonRetryable: true,
            details: outcome.details,
          });
        }
        return outcome.value;
      },
      validator(...args: A): void {
        const problem = intentProblemOf(state, toRequest(...args), now());
        if (problem !== undefined) throw new Error(problem);
      },
    };
  }
  function register<A extends unknown[]>(
    definition: unknown,
    toRequest: (...args: A) => IntentRequest,
  ): void {
    const { handler, validator } = intentUpdate(toRequest);
    setHandler(definition as never, handler as never, { validator: validator as never });
  }
  register(cancelUpdate, () => ({ kind: 'cancel' }));
  register(changePaymentTokenUpdate, (r: { tokenId: string }) => ({
    kind: 'change_token',
    tokenId: r.tokenId,
  }));
  register(changeTotalBillingCyclesUpdate, (r: { totalBillingCycles: number | null }) => ({
    kind: 'change_cycles',
    totalBillingCycles: r.totalBillingCycles,
  }));
  register(chargeNowUpdate, (r: { orderId?: string }) => ({
    kind: 'charge_now',
    ...(r.orderId === undefined ? {} : { orderId: r.orderId }),
  }));
  register(syncNowUpdate, () => ({ kind: 'sync' }));
  register(changeDunningPolicyUpdate, (override: never) => ({ kind: 'policy', override }));

  // ---- the loop: the one writer of side effects ------------------------------------------------

  async function perform(action: Action): Promise<void> {
    const id = state.subscriptionId;
    state = beginAction(state, action);
    switch (action.kind) {
      case 'sync': {
        const since =
          state.snapshot.lastSequenceNo > 0 ? { sinceSequence: state.snapshot.lastSequenceNo } : {};
        const outcome = await attempt(() => qfpay.syncSubscription(id, since));
        return mutate((s) => afterSync(s, action, outcome, now()));
      }
      case 'charge': {
        const startedAt = now();
        const acts = chargeActivities(action.deadline, startedAt);
        const outcome = await attempt(() =>
          acts.chargeOrder({ subscriptionId: id, orderId: action.orderId, notAfter: action.deadline }),
        );
        return mutate((s) => afterCharge(s, action, outcome, startedAt, now()));
      }
      case 'confirm': {
        const { orderId, sentAt, orderBefore } = action.pending;
        const outcome = await attempt(() =>
          qfpay.confirmCharge({
            subscriptionId: id,
            orderId,
            sentAt,
            ...(orderBefore ? { orderBefore } : {}),
          }),
        );
        return mutate((s) => afterConfirm(s, action, outcome, now()));
      }
      case 'cancel': {
        const outcome = await attempt(() => qfpay.cancelSubscription(id));
        return mutate((s) => afterCancel(s, action, outcome, now()));
      }
      case 'change_token':
      case 'change_cycles': {
        const change =
          action.kind === 'change_token'
            ? { subscriptionId: id, tokenId: action.tokenId }
            : { subscriptionId: id, totalBillingCycles: action.totalBillingCycles };
        const outcome = await attempt(() => qfpay.updateSubscription(change));
        return mutate((s) => afterChange(s, action, outcome, now()));
      }
      case 'apply_policy':
        return mutate((s) => applyPolicyChange(s, action));
      case 'refuse':
        return mutate((s) => refuseIntent(s, action));
      case 'flush':
        return flushOutbox();
      case 'wait':
      case 'end':
      case 'continue_as_new':
        return;
    }
  }

  /** Hands every recorded event to its own delivery workflow, all in one workflow task. */
  async function flushOutbox(): Promise<void> {
    const events = state.outbox;
    const started = await Promise.allSettled(
      events.map((event) =>
        startChild(WORKFLOW_TYPES.merchantEventDelivery, {
          workflowId: `merchant-event:${event.id}`,
          args: [event],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // The id derives from the fact: a delivery that exists (or existed) is never repeated.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      ),
    );
    started.forEach((result, i) => {
      if (result.status === 'rejected' && !(result.reason instanceof WorkflowExecutionAlreadyStartedError)) {
        log.warn('merchant event not started', { eventId: events[i]?.id, error: String(result.reason) });
      }
    });
    mutate((s) =>
      afterFlush(
        s,
        events.map((e) => e.id),
      ),
    );
  }

  let timer: { at: number; scope: CancellationScope; fired: boolean } | undefined;
  /**
   * Sleeps until `until` or until a handler changes something. The timer is kept while the wake
   * time stays the same, so a signal that changes nothing due costs no timer cancel and restart.
   */
  async function waitUntil(until: number | null): Promise<void> {
    if (timer && timer.at !== until) {
      timer.scope.cancel();
      timer = undefined;
    }
    if (until !== null && !timer) {
      const next = { at: until, scope: new CancellationScope(), fired: false };
      void next.scope
        .run(() => sleep(until - now()))
        .then(
          () => (next.fired = true),
          () => undefined,
        );
      timer = next;
    }
    const current = timer;
    await condition(() => changed || (current?.fired ?? false));
    if (current?.fired) timer = undefined;
  }

  const maxHistory = () => state.options.maxHistoryEvents ?? ENGINE_DEFAULTS.maxHistoryEvents;
  for (;;) {
    changed = false;
    state = settle(state, now());
    const info = workflowInfo();
    const action = decide(state, now(), {
      continueAsNewSuggested: info.continueAsNewSuggested || info.historyLength >= maxHistory(),
    });
    updateSearchAttributes(state);
    if (action.kind === 'wait') {
      await waitUntil(action.until);
      continue;
    }
    if (action.kind === 'end' || action.kind === 'continue_as_new') {
      if (action.kind === 'end' && action.reason === 'not_found') {
        // QFPay does not know it: nothing to tell the merchant about it.
        state = { ...state, outbox: [] };
        log.warn('ending: subscription unknown to QFPay', { subscriptionId: state.subscriptionId });
      }
      // Nothing is awaited between this condition and the end (or continue-as-new) but the check.
      await condition(() => changed || allHandlersFinished());
      if (changed) continue;
      if (action.kind === 'end') return view();
      await continueAsNew<typeof subscriptionWorkflow>({
        ...input,
        carried: { ...state, continuedAsNew: state.continuedAsNew + 1 },
      });
    }
    await perform(action);
  }
}

/** The validator's check: the same pure check the loop repeats when it takes the intent up. */
function intentProblemOf(state: EngineState, request: IntentRequest, now: number): string | undefined {
  return intentProblem(state, request, now, { queued: true });
}

/**
 * One long-running workflow per subscription, whatever its gateway: a thin shell around pure
 * decisions.
 *
 * - Signal handlers apply the gateway's facts to the state through a pure reducer (no await).
 * - Update handlers validate, queue an intent, and wait for its answer; they never call the gateway.
 * - One loop performs every side effect, in order: it settles the state, asks `decide` for the
 *   next action, performs it (one step of the table `PERFORMERS`), applies the result with a pure
 *   reducer, and asks again. So no two side effects ever interleave, and every decision sees the
 *   state as it is at that moment.
 *
 * The state is one plain-JSON value (`engine-state.ts`), carried whole through continue-as-new.
 */
import type { FailureType } from '../domain/failure-types';
import { gatewayLabel } from '../domain/gateway-profile';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  makeContinueAsNewFunc,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { EngineActivities, GatewayActivities, SubscriptionActivities } from '../activities/contracts';
import { afterReminder, type ReminderFacts } from '../domain/reminders/reminders';
import { decide, settle } from '../domain/decide';
import { engineNow, followClock, testClockOf, type ClockStatus } from '../domain/clock/test-clock';
import { intentProblem } from '../domain/intents/intents';
import type { Action } from '../domain/actions';
import {
  WORKFLOW_TYPES,
  cancelUpdate,
  scheduleCancelUpdate,
  unscheduleCancelUpdate,
  changeDunningPolicyUpdate,
  changePaymentTokenUpdate,
  changeProductsUpdate,
  changePriceUpdate,
  changeTotalBillingCyclesUpdate,
  chargeNowUpdate,
  factSignal,
  handoverSignal,
  reconcileSignal,
  testClockTimeSignal,
  clockStatusQuery,
  testClockMemberSignal,
  testClockWorkflowId,
  pauseBillingUpdate,
  resumeBillingUpdate,
  setMetadataUpdate,
  paymentsQuery,
  snapshotQuery,
  syncNowUpdate,
  type ChangeProductsRequest,
  type ChangePriceRequest,
  type PauseBillingRequest,
  type ResumeBillingRequest,
  type SubscriptionView,
  type SubscriptionWorkflowInput,
} from './definitions';
import {
  ENGINE_DEFAULTS,
  applyFactToState,
  applyHandover,
  enqueueIntent,
  gatewayOf,
  initialState,
  syncReadsFrom,
  takeOutcome,
  type EngineState,
  type IntentRequest,
} from '../domain/engine-state';
import { afterCancel } from '../domain/episode/settle-episode';
import { applyScheduleCancel, applyUnscheduleCancel } from '../domain/cancel/scheduled-cancel';
import { afterChange, applyPolicyChange, refuseIntent } from '../domain/intents/intents';
import { afterCharge, afterConfirm } from '../domain/charge/charge';
import { afterFlush, flushRetryReached, flushRetryTime } from '../domain/events/flush';
import { afterSync } from '../domain/sync/sync';
import { applyPause, applyResume } from '../domain/pause/pause';
import { beginAction, type ActionFailure, type Outcome } from '../domain/actions';
import {
  withBillingReckoning,
  withPauseRule,
  withSyncOrderKeys,
  withTimelineOrder,
} from '../domain/lifecycle/lifecycle';
import { activitySummary, timerSummary } from './summaries';
import {
  GATEWAY_NEUTRAL_NAMES_PATCH,
  describeSubscription,
  updateMetadataMemo,
  updateSearchAttributes,
} from './visibility';
import { applyMetadataChange, metadataChangeProblem, metadataValues } from '../domain/metadata/metadata';

/**
 * The gateway's reads and changes (routed by the subscription's id): a few quick retries, then the loop's own backoff takes over, so no
 * single call holds the loop (and the merchant's updates queued behind it) for long.
 */
const gatewayCalls = proxyActivities<SubscriptionActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 3 },
});

/** Calls only the gateways behind the port make (a gateway's own pause). */
const gateways = proxyActivities<GatewayActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 3 },
});

/** The engine's reads of Temporal itself (a customer's token record, for a reminder). */
const engineCalls = proxyActivities<EngineActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 3 },
});

/** The patch under which a query counts as made when it began (see `afterSync`). */
const SYNC_COUNTS_FROM_ITS_START = 'sync-counts-from-its-start';
/** The patch under which an adopted workflow waits for a creation's handover (see `handoverWaitUntil`). */
const WAIT_FOR_HANDOVER = 'wait-for-handover';
/**
 * The patch under which a run follows the rules that make what a merchant sees true, decided once
 * when the run starts (one marker, so that a run's history and its carried search attributes stay
 * small): facts of one second ordered by their progress (`withTimelineOrder`), a charge's
 * confirmation bounded (`ConfirmRules`), an event whose delivery could not be started kept in the
 * outbox, the engine's hold reported as `dunning_held`, and an unknown subscription given up after
 * two quick queries, failing. A run recorded before replays with the rules it ran under; a run that
 * began before and goes on live keeps them until its next continue-as-new.
 */
const MERCHANT_TRUTH_RULES = 'merchant-truth-rules';

/**
 * A payment while PAUSED moves no state (`withPauseRule`): a gateway with its own pause may settle
 * an order billed before the pause, and the pause is the gateway's to end. Runs recorded before
 * replay as they ran.
 */
const PAUSE_HOLDS_STATE = 'pause-holds-state';

/**
 * A cycle's payment that agrees with the gateway's stated schedule moves the next billing time
 * along it, with no query (`withBillingReckoning`, `paymentAsExpected`). Runs recorded before asked
 * the gateway after every payment, and replay so.
 */
const RECKONS_BILLING = 'engine-reckons-billing';

/**
 * One marker for all the rules above and the gateway-neutral search attributes, recorded by every
 * new run (a continued one too) instead of one per rule: the SDK writes each patch as a marker and
 * an upsert of `TemporalChangeVersion`, so a run began with 12 such events, and a short run (one
 * continue-as-new in about ten cycles) pays them each time. A run recorded without it replays each
 * rule's own patch, as it ran.
 */
const ENGINE_RULES = 'engine-rules-2026-12';

/**
 * {@link ENGINE_RULES}, and the run writes `DunningActivityAt` (what the dunning report lists
 * subscriptions by): one marker for them all in every new run. A run recorded with the marker
 * before replays without the attribute; one that goes on live writes it from its next
 * continue-as-new.
 */
const ENGINE_RULES_WITH_REPORT = 'engine-rules-2026-12-report';

/**
 * {@link ENGINE_RULES_WITH_REPORT}, and a query answer's key names the orders it read
 * (`withSyncOrderKeys`): a merchant's sync in the same gateway second as the engine's own query is
 * not dropped as its duplicate. One marker for them all in every new run; a run recorded before
 * replays with the keys it made.
 */
const ENGINE_RULES_SYNC_ORDERS = 'engine-rules-2026-12-sync-orders';

/**
 * {@link ENGINE_RULES_SYNC_ORDERS}, and a flush that handed any event over ends a streak of
 * refused delivery starts (`afterFlush`'s `progressResets`): an event refused beside it is tried
 * again after the first backoff. One marker for them all in every new run; a run recorded before
 * replays with the backoff it counted.
 */
const ENGINE_RULES_FLUSH_STREAKS = 'engine-rules-2026-12-flush-streaks';

/**
 * The real time after which a charge's activity sends nothing: its latest start. On a test clock
 * the latest start is a clock time, so the activity gets what is left of it from now, in real time.
 */
function chargeNotAfter(sub: Subscription, latestStart: number): number {
  return testClockOf(sub.state) === undefined ? latestStart : Date.now() + (latestStart - sub.now());
}

/** A charge's activity, bounded so that neither it nor a retry can start after `deadline`. */
function chargeActivities(deadline: number, now: number) {
  // `decide` starts a charge only with at least `minAttemptWindow` left: no floor is needed here.
  const budgetMs = deadline - now;
  return proxyActivities<SubscriptionActivities>({
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
  // A timeout's own message is empty; the activity failure's says what happened.
  return { message: String(cause?.message || err.message), refused: false };
}

/**
 * The workflow's one state, and the flag every handler raises when it changes it. The loop clears
 * the flag before it decides, so nothing that arrives while it decides or acts is missed.
 */
class Subscription {
  state: EngineState;
  changed = false;
  /** The run follows the current rules (see `MERCHANT_TRUTH_RULES`), decided when it starts. */
  currentRules = false;
  /** The run recorded {@link ENGINE_RULES} (or its successor): every rule's patch is taken as made. */
  allRules = false;
  /** The run recorded {@link ENGINE_RULES_WITH_REPORT}: it writes `DunningActivityAt`. */
  reportsDunning = false;
  /** The run recorded {@link ENGINE_RULES_FLUSH_STREAKS}: a flush that handed events over ends a refusal streak. */
  flushStreaks = false;

  /** On a test clock: the loop waits with nothing to do at the clock's time (what an advance waits for). */
  idle = false;
  /** On a test clock: the clock time the loop waits for, or null. */
  wakeAt: number | null = null;

  /** Whether the run follows the rule of patch `id`: all rules (one marker), or its own marker. */
  follows(id: string): boolean {
    return this.allRules || patched(id);
  }

  /** The time it decides with: the test clock's when it lives on one (`test-clock.ts`), else Temporal's. */
  now(): number {
    return engineNow(this.state, Date.now());
  }

  /** What a test clock's advance reads of it (null on no clock). */
  clockStatus(): ClockStatus | null {
    const testClock = testClockOf(this.state);
    if (testClock === undefined) return null;
    return {
      testClock,
      now: this.state.clockNow ?? null,
      idle: this.idle && !this.changed,
      wakeAt: this.wakeAt,
    };
  }

  constructor(input: SubscriptionWorkflowInput) {
    this.state = initialState(input);
  }

  mutate(change: (s: EngineState) => EngineState): void {
    this.state = change(this.state);
    this.changed = true;
  }

  view(): SubscriptionView {
    return describeSubscription(this.state, workflowInfo().workflowId);
  }
}

// ---- handlers: signals apply facts; updates queue intents ----------------------------------------

function registerHandlers(sub: Subscription): void {
  function safeSignal<T>(apply: (s: EngineState, payload: T, at: number) => EngineState) {
    return (payload: T): void => {
      try {
        sub.mutate((s) => apply(s, payload, sub.now()));
      } catch (err) {
        // A payload that breaks a reducer must not poison every replay: drop it, loudly.
        log.error('signal payload dropped', { error: String(err) });
      }
    };
  }
  setHandler(factSignal, safeSignal(applyFactToState));
  setHandler(handoverSignal, safeSignal(applyHandover));
  setHandler(reconcileSignal, () => {
    sub.changed = true;
  });
  // A test clock's time (ignored on no clock, and when it is not later than the time it has).
  setHandler(testClockTimeSignal, (payload) => {
    const next = followClock(sub.state, payload?.now);
    if (next !== sub.state) sub.mutate(() => next);
  });
  setHandler(clockStatusQuery, () => sub.clockStatus());
  setHandler(snapshotQuery, () => sub.view());
  // Metadata has no side effect at the gateway: the handler changes the state at once (no intent
  // for the loop), and the memo and search attribute follow in the same workflow task.
  setHandler(
    setMetadataUpdate,
    (change) => {
      sub.mutate((s) => ({ ...s, metadata: applyMetadataChange(s.metadata ?? {}, change) }));
      updateMetadataMemo(sub.state.metadata);
      updateSearchAttributes(sub.state, sub.follows(GATEWAY_NEUTRAL_NAMES_PATCH), sub.reportsDunning);
      return metadataValues(sub.state.metadata);
    },
    {
      validator: (change) => {
        const problem = metadataChangeProblem(sub.state.metadata ?? {}, change);
        if (problem !== undefined) throw new Error(problem);
      },
    },
  );
  setHandler(paymentsQuery, () => sub.state.payments);

  const intent = <A extends unknown[]>(definition: unknown, toRequest: (...args: A) => IntentRequest) =>
    setHandler(definition as never, intentHandler(sub, toRequest) as never, {
      validator: ((...args: A) => {
        // The same pure check the loop repeats when it takes the intent up.
        const problem = intentProblem(sub.state, toRequest(...args), sub.now(), { queued: true });
        if (problem !== undefined) throw new Error(problem);
      }) as never,
    });
  intent(cancelUpdate, () => ({ kind: 'cancel' }));
  intent(scheduleCancelUpdate, () => ({ kind: 'schedule_cancel' }));
  intent(unscheduleCancelUpdate, () => ({ kind: 'unschedule_cancel' }));
  intent(changePaymentTokenUpdate, (r: { tokenId: string }) => ({
    kind: 'change_token',
    tokenId: r.tokenId,
  }));
  intent(changeTotalBillingCyclesUpdate, (r: { totalBillingCycles: number | null }) => ({
    kind: 'change_cycles',
    totalBillingCycles: r.totalBillingCycles,
  }));
  intent(chargeNowUpdate, (r: { orderId?: string }) => ({
    kind: 'charge_now',
    ...(r.orderId === undefined ? {} : { orderId: r.orderId }),
  }));
  intent(syncNowUpdate, () => ({ kind: 'sync' }));
  intent(changeDunningPolicyUpdate, (override: never) => ({ kind: 'policy', override }));
  intent(changeProductsUpdate, (r: ChangeProductsRequest) => ({
    kind: 'change_products',
    products: r?.products,
  }));
  intent(changePriceUpdate, (r: ChangePriceRequest) => ({
    kind: 'change_price',
    amount: r?.amount,
    currency: r?.currency,
  }));
  intent(pauseBillingUpdate, (r: PauseBillingRequest) => ({
    kind: 'pause',
    resumesAt: r?.resumesAt ?? null,
    ...(r?.scope === undefined ? {} : { scope: r.scope }),
  }));
  intent(resumeBillingUpdate, (r?: ResumeBillingRequest) => ({
    kind: 'resume',
    ...(r?.scope === undefined ? {} : { scope: r.scope }),
  }));
}

/** An update handler: queues the intent, waits for the loop's answer, returns or throws it. */
function intentHandler<A extends unknown[]>(sub: Subscription, toRequest: (...args: A) => IntentRequest) {
  return async (...args: A): Promise<Record<string, unknown>> => {
    const queued = enqueueIntent(sub.state, toRequest(...args));
    sub.mutate(() => queued.state);
    await condition(() => sub.state.resolved.some((r) => r.id === queued.id));
    const taken = takeOutcome(sub.state, queued.id);
    sub.state = taken.state;
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
  };
}

// ---- the loop's actions: the only side effects ---------------------------------------------------

/** What every action's step is given: the workflow, the subscription's id, and the activity's summary. */
interface Step {
  sub: Subscription;
  id: string;
  /** What the Web UI shows on the activity (user metadata; commands and replay are unchanged). */
  options: { summary: ReturnType<typeof activitySummary> };
}

/** How one kind of action is carried out: at most one activity (or child start), then its reducer. */
type Performer<A extends Action> = (step: Step, action: A) => Promise<void>;

/** The action of one kind (or of several). */
type ActionOf<K extends Action['kind']> = Extract<Action, { kind: K }>;

/** A change of the subscription at its gateway. */
type ChangeAction = ActionOf<'change_token' | 'change_cycles' | 'change_products' | 'change_price'>;

/** A change as `updateSubscription` takes it. */
function changeRequest(id: string, action: ChangeAction) {
  switch (action.kind) {
    case 'change_token':
      return { subscriptionId: id, tokenId: action.tokenId };
    case 'change_cycles':
      return { subscriptionId: id, totalBillingCycles: action.totalBillingCycles };
    case 'change_price':
      return { subscriptionId: id, price: { amount: action.amount, currency: action.currency } };
    case 'change_products':
      return { subscriptionId: id, products: action.products };
  }
}

const performChange: Performer<ChangeAction> = async ({ sub, id, options }, action) => {
  const outcome = await attempt(() =>
    gatewayCalls.updateSubscription.executeWithOptions(options, [changeRequest(id, action)]),
  );
  sub.mutate((s) => afterChange(s, action, outcome, sub.now()));
};

/** A pause or a resume: a gateway's is made there first; the engine's own hold follows only when it is. */
const performPause: Performer<ActionOf<'pause' | 'resume'>> = async ({ sub, id, options }, action) => {
  if (action.scope === 'gateway') {
    const paused = action.kind === 'pause';
    const outcome = await attempt(() =>
      gateways.setPausedAtGateway.executeWithOptions(options, [{ subscriptionId: id, paused }]),
    );
    if (!outcome.ok) {
      const message = `${gatewayOf(sub.state).name} did not ${action.kind}: ${outcome.failure.message}`;
      // Refused is the gateway's answer; anything else (no answer, busy) may work if tried again.
      const type: FailureType = outcome.failure.refused ? 'GatewayRefused' : 'GatewayUnavailable';
      return sub.mutate((s) => refuseIntent(s, { kind: 'refuse', intentId: action.intentId, message, type }));
    }
  }
  sub.mutate((s) =>
    action.kind === 'pause' ? applyPause(s, action, sub.now()) : applyResume(s, action, sub.now()),
  );
};

/** Nothing to carry out: the loop itself waits, ends or continues as new. */
const performNothing: Performer<ActionOf<'wait' | 'end' | 'continue_as_new'>> = () => Promise.resolve();

/** Every action `decide` can give, and how it is carried out (the type makes the table whole). */
const PERFORMERS: { [K in Action['kind']]: Performer<ActionOf<K>> } = {
  async sync({ sub, id, options }, action) {
    // Histories from before this change count a query from its answer (they replay as made).
    const fromStart = sub.follows(SYNC_COUNTS_FROM_ITS_START);
    const startedAt = sub.now();
    // The merchant's sync reads every order the engine holds FAILED, however old.
    const since = syncReadsFrom(sub.state, { everyFailed: action.reason === 'intent' });
    const outcome = await attempt(() =>
      gatewayCalls.syncSubscription.executeWithOptions(options, [
        id,
        since === undefined ? {} : { sinceSequence: since },
      ]),
    );
    sub.mutate((s) => afterSync(s, action, outcome, fromStart ? startedAt : sub.now(), sub.now()));
  },
  async charge({ sub, id, options }, action) {
    const startedAt = sub.now();
    const acts = chargeActivities(action.deadline, startedAt);
    const outcome = await attempt(() =>
      acts.chargeOrder.executeWithOptions(options, [
        // Every try, retries included, is sent before the latest start, so each can finish in time.
        { subscriptionId: id, orderId: action.orderId, notAfter: chargeNotAfter(sub, action.latestStart) },
      ]),
    );
    const bounded = sub.currentRules;
    sub.mutate((s) => afterCharge(s, action, outcome, startedAt, sub.now(), { bounded }));
  },
  async confirm({ sub, id, options }, action) {
    const { orderId, sentAt, orderBefore } = action.pending;
    const outcome = await attempt(() =>
      gatewayCalls.confirmCharge.executeWithOptions(options, [
        { subscriptionId: id, orderId, sentAt, ...(orderBefore ? { orderBefore } : {}) },
      ]),
    );
    const bounded = sub.currentRules;
    sub.mutate((s) => afterConfirm(s, action, outcome, sub.now(), { bounded }));
  },
  async cancel({ sub, id, options }, action) {
    const outcome = await attempt(() => gatewayCalls.cancelSubscription.executeWithOptions(options, [id]));
    sub.mutate((s) => afterCancel(s, action, outcome, sub.now()));
  },
  async remind({ sub, id, options }, action) {
    const { snapshot } = sub.state;
    const outcome = await attempt(async (): Promise<ReminderFacts> => {
      if (action.reminder !== 'payment_method_expiring')
        return gateways.upcomingBilling.executeWithOptions(options, [{ subscriptionId: id }]);
      if (!snapshot.customerId || !snapshot.tokenId) return { tokenExpiresAt: null };
      const tokenExpiresAt = await engineCalls.tokenExpiry.executeWithOptions(options, [
        { customerId: snapshot.customerId, tokenId: snapshot.tokenId },
      ]);
      return { tokenExpiresAt };
    });
    sub.mutate((s) => afterReminder(s, action, outcome, sub.now()));
  },
  change_token: performChange,
  change_cycles: performChange,
  change_products: performChange,
  change_price: performChange,
  apply_policy: ({ sub }, action) => Promise.resolve(sub.mutate((s) => applyPolicyChange(s, action))),
  schedule_cancel: ({ sub }, action) =>
    Promise.resolve(sub.mutate((s) => applyScheduleCancel(s, action, sub.now()))),
  unschedule_cancel: ({ sub }, action) =>
    Promise.resolve(sub.mutate((s) => applyUnscheduleCancel(s, action, sub.now()))),
  pause: performPause,
  resume: performPause,
  refuse: ({ sub }, action) => Promise.resolve(sub.mutate((s) => refuseIntent(s, action))),
  flush: ({ sub }) => flushOutbox(sub),
  wait: performNothing,
  end: performNothing,
  continue_as_new: performNothing,
};

/** Carries out one action: marks it begun, then runs its step from {@link PERFORMERS}. */
function perform(sub: Subscription, action: Action): Promise<void> {
  const step: Step = {
    sub,
    id: sub.state.subscriptionId,
    options: { summary: activitySummary(sub.state, action) },
  };
  sub.state = beginAction(sub.state, action);
  return (PERFORMERS[action.kind] as Performer<Action>)(step, action);
}

/** Hands every recorded event to its own delivery workflow, all in one workflow task. */
async function flushOutbox(sub: Subscription): Promise<void> {
  const events = sub.state.outbox;
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
  const handedOver: string[] = [];
  const notStarted: string[] = [];
  // Histories from before replay as they ran: every event left the outbox, started or not.
  const keepUnstarted = sub.currentRules;
  started.forEach((result, i) => {
    const id = events[i]!.id;
    if (result.status === 'rejected' && !(result.reason instanceof WorkflowExecutionAlreadyStartedError)) {
      log.warn('merchant event not started; it stays in the outbox', {
        eventId: id,
        error: String(result.reason),
      });
      if (keepUnstarted) return void notStarted.push(id);
    }
    handedOver.push(id);
  });
  sub.mutate((s) =>
    afterFlush(s, { handedOver, notStarted }, sub.now(), { progressResets: sub.flushStreaks }),
  );
}

/**
 * A subscription on a test clock tells the clock's workflow once that it lives on it, so that the
 * clock's advances give it the clock's time and wait for it; the clock answers with its time. A
 * clock that does not exist cannot be told: the subscription then waits for a time in vain, which
 * the log says. Runs on no clock do nothing here.
 */
async function joinTestClock(sub: Subscription): Promise<void> {
  const testClock = testClockOf(sub.state);
  if (testClock === undefined || sub.state.clockJoined) return;
  try {
    await getExternalWorkflowHandle(testClockWorkflowId(testClock)).signal(
      testClockMemberSignal,
      workflowInfo().workflowId,
    );
  } catch (err) {
    log.warn('the test clock could not be joined', { testClock, error: String(err) });
  }
  sub.state = { ...sub.state, clockJoined: true };
}

/**
 * A refused delivery start's retry on a test clock waits in real time (a timer), not for the
 * clock: the refusal was Temporal's, and the clock may never move again. Runs that waited for the
 * clock before (no marker) replay as they ran.
 */
const OUTBOX_RETRY_IN_REAL_TIME = 'outbox-retry-in-real-time';

/**
 * Sleeps until a wake time or until a handler changes something. The timer is kept while the wake
 * time stays the same, so a signal that changes nothing due costs no timer cancel and restart.
 *
 * On a test clock its time is the clock's: no timer for its wake time, which the clock's signal
 * passes. Only a refused delivery start's retry gets a timer there, of real time
 * ({@link OUTBOX_RETRY_IN_REAL_TIME}).
 */
class Sleeper {
  private timer: { key: string; scope: CancellationScope; fired: boolean } | undefined;

  async until(sub: Subscription, at: number | null): Promise<void> {
    if (testClockOf(sub.state) !== undefined) return this.onClock(sub, at);
    this.keep(
      at === null
        ? null
        : { key: `at:${at}`, ms: at - Date.now(), summary: () => timerSummary(sub.state, at) },
    );
    const current = this.timer;
    await condition(() => sub.changed || (current?.fired ?? false));
    if (current?.fired) this.timer = undefined;
  }

  /**
   * On a test clock: the clock's signal passes `at`. A timer kept from before the clock (a run a
   * notification started on no clock) is left alone, as before; only the outbox's retry wakes it.
   */
  private async onClock(sub: Subscription, at: number | null): Promise<void> {
    const retryAt = flushRetryTime(sub.state);
    const retry = retryAt !== null && patched(OUTBOX_RETRY_IN_REAL_TIME);
    // What is left of the retry's wait from the clock's time, in real time (at least a moment).
    if (retry)
      this.keep({
        key: `outbox:${retryAt}`,
        ms: Math.max(1, retryAt - sub.now()),
        summary: () => `${timerSummary(sub.state, retryAt)} (test clock: in real time)`,
      });
    else if (this.timer?.key.startsWith('outbox:')) this.keep(null);
    sub.idle = true;
    sub.wakeAt = at;
    const current = retry ? this.timer : undefined;
    await condition(() => sub.changed || (current?.fired ?? false));
    sub.idle = false;
    if (!current?.fired) return;
    this.timer = undefined;
    sub.state = flushRetryReached(sub.state, sub.now());
  }

  /** Keeps the timer for `wanted.key` (a timer for another is cancelled), or none; a new one is summarized then. */
  private keep(wanted: { key: string; ms: number; summary: () => string } | null): void {
    if (this.timer && this.timer.key !== wanted?.key) {
      this.timer.scope.cancel();
      this.timer = undefined;
    }
    if (wanted === null || this.timer) return;
    const timer = { key: wanted.key, scope: new CancellationScope(), fired: false };
    void timer.scope
      .run(() => sleep(wanted.ms, { summary: wanted.summary() }))
      .then(
        () => (timer.fired = true),
        () => undefined,
      );
    this.timer = timer;
  }
}

function historyIsLong(state: EngineState): boolean {
  const info = workflowInfo();
  const bound = state.options.maxHistoryEvents ?? ENGINE_DEFAULTS.maxHistoryEvents;
  return info.continueAsNewSuggested || info.historyLength >= bound;
}

export async function subscriptionWorkflow(input: SubscriptionWorkflowInput): Promise<SubscriptionView> {
  const sub = new Subscription(input);
  // Runs recorded before replay with the rules they ran under; every new run (a carried one too)
  // follows the current ones.
  sub.flushStreaks = patched(ENGINE_RULES_FLUSH_STREAKS);
  const syncKeysOrders = sub.flushStreaks || patched(ENGINE_RULES_SYNC_ORDERS);
  sub.reportsDunning = syncKeysOrders || patched(ENGINE_RULES_WITH_REPORT);
  sub.allRules = sub.reportsDunning || patched(ENGINE_RULES);
  sub.currentRules = sub.follows(MERCHANT_TRUTH_RULES);
  const current = sub.currentRules;
  const { legacyPauseEvents: _legacy, quickNotFound: _quick, ...rest } = sub.state;
  sub.state = {
    ...rest,
    snapshot: withSyncOrderKeys(
      withBillingReckoning(
        withPauseRule(
          withTimelineOrder(sub.state.snapshot, current ? 'progress' : undefined),
          sub.follows(PAUSE_HOLDS_STATE),
        ),
        sub.follows(RECKONS_BILLING),
      ),
      syncKeysOrders,
    ),
    ...(current ? { quickNotFound: true as const } : { legacyPauseEvents: true as const }),
  };
  // Histories from before the handover wait replay as they ran: without it.
  if (!sub.follows(WAIT_FOR_HANDOVER))
    sub.state = { ...sub.state, handover: { status: 'done', adoptedAt: null } };
  registerHandlers(sub);
  const sleeper = new Sleeper();
  for (;;) {
    await joinTestClock(sub);
    sub.changed = false;
    sub.state = settle(sub.state, sub.now());
    const action = decide(sub.state, sub.now(), { continueAsNewSuggested: historyIsLong(sub.state) });
    updateSearchAttributes(sub.state, sub.follows(GATEWAY_NEUTRAL_NAMES_PATCH), sub.reportsDunning);
    updateMetadataMemo(sub.state.metadata);
    if (action.kind === 'wait') {
      await sleeper.until(sub, action.until);
    } else if (action.kind === 'end' || action.kind === 'continue_as_new') {
      const notFound = action.kind === 'end' && action.reason === 'not_found';
      if (notFound) {
        // Its gateway does not know it: nothing to tell the merchant about it.
        sub.state = { ...sub.state, outbox: [] };
        log.warn(`ending: subscription unknown to ${gatewayLabel(gatewayOf(sub.state))}`, {
          subscriptionId: sub.state.subscriptionId,
        });
      }
      // It has nothing left to do at its time but end or continue as new: a test clock's advance
      // may go on. (A worker that replays the run to answer a query can come here where the run
      // itself waited: the history's length is read after its last task, not before.)
      sub.idle = true;
      sub.wakeAt = null;
      // Nothing is awaited between this condition and the end (or continue-as-new) but the check.
      await condition(() => sub.changed || allHandlersFinished());
      if (sub.changed) {
        sub.idle = false;
        continue;
      }
      // A run that gives up fails, so that the id stays free for the subscription's real workflow.
      if (notFound && sub.state.quickNotFound) {
        throw ApplicationFailure.create({
          type: 'SubscriptionNotFound' satisfies FailureType,
          message: `${gatewayLabel(gatewayOf(sub.state))} does not know subscription ${sub.state.subscriptionId} (asked ${sub.state.notFound} times)`,
          nonRetryable: true,
        });
      }
      if (action.kind === 'end') return sub.view();
      const carried = { ...sub.state, continuedAsNew: sub.state.continuedAsNew + 1 };
      // The engine's own search attributes go on, not the SDK's patch list (TemporalChangeVersion):
      // the next run records its own patches, and the time-skipping test server loses the signals
      // of a run that carried a list of several (it recorded none of them).
      const attributes = workflowInfo()
        .typedSearchAttributes.getAll()
        .filter((pair) => pair.key.name !== 'TemporalChangeVersion');
      // The memo (the metadata a list shows) goes on with the run.
      const memo = workflowInfo().memo;
      await makeContinueAsNewFunc<typeof subscriptionWorkflow>({
        typedSearchAttributes: attributes,
        ...(memo && Object.keys(memo).length > 0 ? { memo } : {}),
      })({
        ...input,
        carried,
      });
    } else {
      await perform(sub, action);
    }
  }
}

/**
 * Drives the workflow's pure core (`settle`, `decide` and the reducers) through one random dunning
 * episode against a small model of QFPay, exactly as the workflow shell does, and checks the
 * engine's promises at every step:
 *
 * - no charge is started outside the order's charge window (`now ≤ deadline − minAttemptWindow`,
 *   with the deadline from QFPay's own next billing time), and none after QFPay's next billing time;
 * - at most one charge is in flight or unconfirmed at any time;
 * - the final action never runs once the order is paid or the subscription has ended;
 * - while billing is paused (the merchant's pause, or the final action `pause_billing`) no charge
 *   starts, no final action runs and the episode is not counted exhausted; a resume re-plans;
 * - `decide` never asks to wait for a time that has already come, and it always comes to rest.
 *
 * Faults come from the seeded random source: worker outages (time passes with nothing done),
 * policy changes, new cards, charges that time out (processed or not), "processing" answers,
 * QFPay's own retries paying the order, merchant cancels and charge-nows, signals and updates that
 * arrive while an action is in flight, and QFPay's clock running ahead of or behind the worker's.
 *
 * Pure and synchronous: it runs a hundred thousand episodes in seconds.
 */
import type { GatewayProfile } from '../src/domain/gateway-profile';
import type { ChargeOutcome, ConfirmOutcome, SyncResult } from '../src/activities/contracts';
import { seededRandom } from '../src/gateways/qfpay/emulator/faults';
import { decide, settle } from '../src/domain/decide';
import type { Action } from '../src/domain/actions';
import type { MerchantEvent } from '../src/workflows/definitions';
import {
  DEFAULT_DUNNING_POLICY,
  MIN_SAFETY_MARGIN_MS,
  mergePolicy,
  type DunningPolicy,
  type DunningPolicyOverride,
} from '../src/domain/episode/dunning';
import {
  applyFactToState,
  enqueueIntent,
  initialState,
  takeOutcome,
  type EngineState,
  type IntentRequest,
} from '../src/domain/engine-state';
import { chargeWindow } from '../src/domain/episode/episode';
import type { Fact, RemoteOrder } from '../src/domain/lifecycle/lifecycle';
import { afterCancel } from '../src/domain/episode/settle-episode';
import { afterChange, applyPolicyChange, refuseIntent } from '../src/domain/intents/intents';
import { afterCharge, afterConfirm } from '../src/domain/charge/charge';
import { afterFlush } from '../src/domain/events/flush';
import { afterSync } from '../src/domain/sync/sync';
import { applyPause, applyResume } from '../src/domain/pause/pause';
import { beginAction, type Outcome } from '../src/domain/actions';
import { SECOND, MINUTE, HOUR, DAY } from '../src/domain/duration';

/** How long QFPay takes, at most, to settle a charge it answered "processing" (within the engine's confirmation window). */
const PROCESSING_MS = 90 * SECOND;

/** A small seeded PRNG (the emulator's), so a failing episode can be replayed from its seed. */
export const random = seededRandom;

/** What one episode did, for the totals a run prints. */
export interface EpisodeReport {
  seed: number;
  charges: number;
  unconfirmedCharges: number;
  outages: number;
  policyChanges: number;
  steps: number;
  outcome: string;
  /** Merchant pauses carried out. */
  pauses: number;
  violations: string[];
}

interface ModelOrder {
  seq: number;
  status: 'PAID' | 'FAILED';
  respcd: string;
  at: number;
  attempts: number;
}

/** QFPay as the episode sees it: its clock runs `skew` ms ahead of the worker's. */
class QfpayModel {
  state: 'ACTIVE' | 'PAST_DUE' | 'UNPAID' | 'CANCELLED' = 'PAST_DUE';
  orders: ModelOrder[];
  /** Charges processed, by QFPay's clock. */
  readonly charges: Array<{ at: number; approved: boolean }> = [];
  /** Charges QFPay is still processing ("1145"): it settles each within {@link PROCESSING_MS}. */
  processing: Array<{ approve: boolean; since: number }> = [];
  /** The next billing time that followed each order: a manual charge of it must come before. */
  readonly deadlines = new Map<number, number>();

  constructor(
    readonly subscriptionId: string,
    public nextBillingTime: number,
    readonly skew: number,
    failureAt: number,
  ) {
    this.orders = [
      { seq: 1, status: 'PAID', respcd: '0000', at: failureAt - 30 * DAY, attempts: 1 },
      { seq: 2, status: 'FAILED', respcd: '1205', at: failureAt, attempts: 1 },
    ];
    this.deadlines.set(2, nextBillingTime);
  }

  orderId(seq: number): string {
    return `sub_ord_${this.subscriptionId.slice(4)}_${String(seq).padStart(4, '0')}`;
  }

  paid(): boolean {
    return this.current.status === 'PAID';
  }

  get current(): ModelOrder {
    return this.orders[this.orders.length - 1]!;
  }

  remoteOrders(): RemoteOrder[] {
    return this.orders.map((o) => ({
      orderId: this.orderId(o.seq),
      sequenceNo: o.seq,
      status: o.status,
      respcd: o.respcd,
      at: o.at,
    }));
  }

  fingerprint(): string {
    const o = this.current;
    return `${o.status}|${o.respcd}|${o.at}|${o.attempts}`;
  }

  /** QFPay processes a manual charge at worker time `now`. */
  charge(now: number, approve: boolean): void {
    const at = now + this.skew;
    this.charges.push({ at, approved: approve });
    const order = this.current;
    order.attempts += 1;
    order.at = at;
    if (approve && order.status === 'FAILED') {
      // A manual charge after the next billing time cancels the plan (seed 001).
      if (at >= this.nextBillingTime) this.state = 'CANCELLED';
      else {
        order.status = 'PAID';
        order.respcd = '0000';
        this.state = 'ACTIVE';
      }
    } else if (!approve) order.respcd = '1205';
  }

  /** QFPay settles the charges it was processing once their time has come. */
  settleProcessing(now: number): void {
    const due = this.processing.filter((p) => now - p.since >= PROCESSING_MS);
    this.processing = this.processing.filter((p) => now - p.since < PROCESSING_MS);
    for (const p of due) this.charge(p.since + PROCESSING_MS, p.approve);
  }

  /**
   * A gateway that recovers on its own ends its recovery `after` its first decline: the order
   * still unpaid, the subscription is UNPAID. True when that happened now.
   */
  endRecovery(now: number, after: number | undefined): boolean {
    if (after === undefined || this.state !== 'PAST_DUE' || this.current.seq !== 2) return false;
    if (this.current.status !== 'FAILED' || now + this.skew < this.orders[1]!.at + after) return false;
    this.state = 'UNPAID';
    return true;
  }

  /** QFPay bills the next cycle once its clock passes the next billing time (the card now works). */
  tick(now: number, period: number): boolean {
    if (this.state === 'CANCELLED' || now + this.skew < this.nextBillingTime) return false;
    this.orders.push({
      seq: this.current.seq + 1,
      status: 'PAID',
      respcd: '0000',
      at: this.nextBillingTime,
      attempts: 1,
    });
    this.nextBillingTime += period;
    this.deadlines.set(this.current.seq, this.nextBillingTime);
    this.state = 'ACTIVE';
    return true;
  }
}

interface EpisodeParams {
  seed: number;
  /** The most events in one episode. */
  events?: number;
  /** Receives one line per action, to follow a failing seed. */
  trace?: (line: string) => void;
  /** The subscription's gateway (default: QFPay, which has the manual charge). */
  gateway?: GatewayProfile;
}

function randomPolicy(rnd: () => number, cycle: number): DunningPolicy {
  const count = 1 + Math.floor(rnd() * 4);
  const offsets = Array.from({ length: count }, () => Math.floor(rnd() * cycle * 1.2) + 1).sort(
    (a, b) => a - b,
  );
  const unique = [...new Set(offsets)];
  return mergePolicy(DEFAULT_DUNNING_POLICY, {
    attemptOffsets: unique,
    safetyMargin: MIN_SAFETY_MARGIN_MS + Math.floor(rnd() * cycle * 0.1),
    minAttemptWindow: 1 + Math.floor(rnd() * cycle * 0.05),
    finalAction: (['cancel', 'leave_to_gateway', 'pause_billing'] as const)[Math.floor(rnd() * 3)]!,
    escalation: rnd() < 0.5 ? ['notify_customer'] : [],
  });
}

/** Runs one random episode; returns what it did and every violated promise. */
export function runEpisode({ seed, events = 60, trace, gateway }: EpisodeParams): EpisodeReport {
  const rnd = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const cycle = pick([3 * MINUTE, HOUR, DAY, 30 * DAY]);
  const skew = Math.floor((rnd() - 0.5) * 2 * 4 * SECOND); // within the allowance (5 s)
  const subscriptionId = `sub_${(seed >>> 0).toString(16).padStart(8, '0')}sim`;
  const failureAt = 1_800_000_000_000;
  const qfpay = new QfpayModel(subscriptionId, failureAt + cycle, skew, failureAt);
  const recoveryEndsAfter = gateway?.capabilities.manualCharge
    ? undefined
    : gateway?.capabilities.recoveryEndsAfterMs;
  const report: EpisodeReport = {
    seed,
    charges: 0,
    unconfirmedCharges: 0,
    outages: 0,
    policyChanges: 0,
    steps: 0,
    outcome: 'open',
    pauses: 0,
    violations: [],
  };
  const violate = (what: string) => report.violations.push(`${what} (seed ${seed}, step ${report.steps})`);

  let now = failureAt + Math.floor(rnd() * MINUTE);
  let state: EngineState = initialState({
    subscriptionId,
    origin: 'created',
    policy: randomPolicy(rnd, cycle),
    options: {
      merchantEvents: true,
      chargeConfirmWindowMs: 2 * MINUTE,
      chargeConfirmIntervalMs: 20 * SECOND,
    },
    ...(gateway ? { gateway } : {}),
  });
  state = { ...state, known: true };
  const delivered: MerchantEvent[] = [];

  const syncFact = (): SyncResult => ({
    found: true,
    fact: {
      kind: 'sync',
      subscriptionId,
      at: Math.max(now, now + skew),
      remote: {
        state: qfpay.state,
        totalBillingCycles: null,
        completedCycles: qfpay.orders.filter((o) => o.status === 'PAID').length,
        nextBillingTime: qfpay.nextBillingTime,
        lastBillingTime: qfpay.current.at,
      },
      orders: qfpay.remoteOrders().filter((o) => o.sequenceNo >= Math.max(1, state.snapshot.lastSequenceNo)),
      source: 'query',
    },
  });
  const notify = (fact: Fact) => {
    state = applyFactToState(state, fact, now);
  };
  const paymentFact = (o: ModelOrder): Fact => ({
    kind: 'payment',
    subscriptionId,
    orderId: qfpay.orderId(o.seq),
    sequenceNo: o.seq,
    succeeded: o.status === 'PAID',
    respcd: o.respcd,
    at: o.at,
    source: 'notification',
  });

  // Cycle 2 failed: QFPay notifies.
  notify(paymentFact(qfpay.current));
  notify({ kind: 'state', subscriptionId, state: 'PAST_DUE', at: failureAt, source: 'notification' });

  /** Something a handler may do while the loop awaits an action. */
  const handlerEvent = () => {
    const r = rnd();
    if (r < 0.3) {
      const kind = pick<IntentRequest>([
        { kind: 'charge_now' },
        { kind: 'change_token', tokenId: `tk_${Math.floor(rnd() * 1e6)}` },
        { kind: 'sync' },
        {
          kind: 'policy',
          override: { attemptOffsets: [Math.floor(rnd() * cycle) + 1] } as DunningPolicyOverride,
        },
      ]);
      if (kind.kind === 'policy') report.policyChanges += 1;
      state = enqueueIntent(state, kind).state;
    } else if (r < 0.36) {
      const pause: IntentRequest =
        state.billingPause && rnd() < 0.7
          ? { kind: 'resume' }
          : { kind: 'pause', resumesAt: rnd() < 0.5 ? null : now + 1 + Math.floor(rnd() * cycle * 0.5) };
      state = enqueueIntent(state, pause).state;
    } else if (r < 0.4 && rnd() < 0.3) {
      // The customer (or QFPay's own retry) pays the order.
      if (qfpay.current.status === 'FAILED' && qfpay.state !== 'CANCELLED') {
        qfpay.charge(now, true);
        notify(paymentFact(qfpay.current));
      }
    } else if (r < 0.42) {
      state = enqueueIntent(state, { kind: 'cancel' }).state;
    }
  };

  const perform = (action: Action): void => {
    state = beginAction(state, action);
    switch (action.kind) {
      case 'sync': {
        const outcome: Outcome<SyncResult> =
          rnd() < 0.1
            ? { ok: false, failure: { message: 'QFPay 503', refused: false } }
            : { ok: true, value: syncFact() };
        if (rnd() < 0.3) handlerEvent();
        state = afterSync(state, action, outcome, now, now);
        return;
      }
      case 'charge':
        return performCharge(action);
      case 'confirm': {
        let value: ConfirmOutcome = { status: 'unknown' };
        qfpay.settleProcessing(now);
        const order = qfpay.current;
        if (order.status === 'PAID') value = { status: 'paid', charge: chargeOutcomeOf(order, 'succeeded') };
        else if (
          action.pending.orderBefore !== undefined &&
          action.pending.orderBefore !== qfpay.fingerprint()
        ) {
          value = { status: 'failed', charge: chargeOutcomeOf(order, 'failed') };
        }
        if (rnd() < 0.3) handlerEvent();
        state = afterConfirm(state, action, { ok: true, value }, now);
        return;
      }
      case 'cancel': {
        if (action.cause === 'final_action' && qfpay.current.status === 'PAID') {
          violate('the final action ran after the order was paid');
        }
        if (action.cause === 'final_action' && state.billingPause)
          violate('the final action ran while paused');
        qfpay.state = 'CANCELLED';
        state = afterCancel(state, action, { ok: true, value: { at: now + skew } }, now);
        return;
      }
      case 'change_token':
      case 'change_cycles':
        state = afterChange(state, action, { ok: true, value: { at: now + skew } }, now);
        return;
      case 'apply_policy':
        state = applyPolicyChange(state, action);
        return;
      case 'pause':
        report.pauses += 1;
        state = applyPause(state, action, now);
        return;
      case 'resume':
        state = applyResume(state, action, now);
        return;
      case 'refuse':
        state = refuseIntent(state, action);
        return;
      case 'flush':
        delivered.push(...state.outbox);
        state = afterFlush(state, { handedOver: state.outbox.map((e) => e.id), notStarted: [] }, now);
        return;
      default:
        return;
    }
  };

  const chargeOutcomeOf = (o: ModelOrder, outcome: ChargeOutcome['outcome']): ChargeOutcome => ({
    orderId: qfpay.orderId(o.seq),
    sequenceNo: o.seq,
    outcome,
    respcd: o.respcd,
    at: o.at,
  });

  const performCharge = (action: Extract<Action, { kind: 'charge' }>): void => {
    report.charges += 1;
    if (gateway && !gateway.capabilities.manualCharge) violate(`a charge on ${gateway.name}, which has none`);
    if (state.pendingCharge) violate('a charge started while the engine was confirming another');
    if (state.billingPause) violate('a charge started while billing was paused');
    qfpay.settleProcessing(now);
    if (qfpay.processing.length > 0) violate('a charge started while QFPay was still processing another');
    const orderNextBilling = qfpay.deadlines.get(action.sequenceNo) ?? -Infinity;
    if (action.sequenceNo !== qfpay.current.seq)
      violate(`charged order ${action.sequenceNo} of an earlier cycle`);
    const window = chargeWindow(
      { ...state.snapshot, nextBillingTime: orderNextBilling, lastSequenceNo: action.sequenceNo },
      { sequenceNo: action.sequenceNo, firstAt: failureAt },
      state.policy,
    );
    if (!window.open || now > window.latestStart) violate(`a charge started outside its window at ${now}`);
    // The activity sends no try (retries included) from `latestStart` on: it must be the window's.
    if (window.open && action.latestStart > window.latestStart)
      violate(
        `a charge whose tries may be sent until ${action.latestStart}, after its window's latest start`,
      );
    if (now + skew >= orderNextBilling) violate('a charge reached QFPay after the next billing time');
    const startedAt = now;
    const before = qfpay.fingerprint();
    const behaviour = rnd();
    let value: ChargeOutcome;
    if (qfpay.current.status === 'PAID')
      value = { ...chargeOutcomeOf(qfpay.current, 'succeeded'), alreadyPaid: true };
    else if (behaviour < 0.35) {
      qfpay.charge(now, false);
      value = chargeOutcomeOf(qfpay.current, 'failed');
    } else if (behaviour < 0.6) {
      qfpay.charge(now, true);
      value = chargeOutcomeOf(qfpay.current, qfpay.paid() ? 'succeeded' : 'failed');
    } else if (behaviour < 0.75) {
      // A 5xx before QFPay processed anything.
      value = { ...chargeOutcomeOf(qfpay.current, 'unknown'), orderBefore: before };
    } else if (behaviour < 0.88) {
      // A timeout after QFPay processed the charge.
      qfpay.charge(now, rnd() < 0.5);
      value = { ...chargeOutcomeOf(qfpay.current, 'unknown'), orderBefore: before };
    } else {
      qfpay.processing.push({ approve: rnd() < 0.5, since: now });
      value = { ...chargeOutcomeOf(qfpay.current, 'pending'), respcd: '1145', orderBefore: before };
    }
    if (value.outcome === 'unknown' || value.outcome === 'pending') report.unconfirmedCharges += 1;
    if (rnd() < 0.3) handlerEvent();
    now += Math.floor(rnd() * Math.min(10 * SECOND, state.policy.minAttemptWindow));
    state = afterCharge(state, action, { ok: true, value }, startedAt, now);
  };

  const runLoop = () => {
    for (let spins = 0; ; spins += 1) {
      report.steps += 1;
      if (spins > 200) {
        violate('the loop did not come to rest');
        return;
      }
      const before = state;
      state = settle(state, now);
      const escalatedNow =
        before.episode?.stage === 'retrying' &&
        (state.episode?.stage === 'escalating' ||
          (state.episodeHistory.length > before.episodeHistory.length &&
            state.episodeHistory.at(-1)?.outcome === 'exhausted'));
      if (recoveryEndsAfter !== undefined && escalatedNow && qfpay.state !== 'UNPAID') {
        violate('escalated while the gateway still retried');
      }
      if (
        // The same pause throughout (a resume may exhaust the episode, and `pause_billing` pause anew).
        before.billingPause &&
        state.billingPause?.since === before.billingPause.since &&
        state.billingPause.by === before.billingPause.by &&
        before.episode?.stage === 'retrying' &&
        state.episode?.stage !== 'retrying' &&
        state.episodeHistory.at(-1)?.outcome === 'exhausted'
      ) {
        violate('an episode was counted exhausted while billing was paused');
      }
      if (
        (gateway?.capabilities.manualCharge ?? true) &&
        before.billingPause &&
        !state.billingPause &&
        state.episode?.stage === 'retrying' &&
        state.episode.schedule.length === 0 &&
        !state.pendingCharge &&
        chargeWindow(
          state.snapshot,
          { sequenceNo: state.episode.sequenceNo, firstAt: failureAt },
          state.policy,
        ).open
      ) {
        violate('a resume left an episode with an open window and nothing planned');
      }
      const action = decide(state, now, { continueAsNewSuggested: false });
      if (action.kind === 'wait') {
        if (action.until !== null && action.until <= now) violate('asked to wait for a time already come');
        return;
      }
      if (action.kind === 'end' || action.kind === 'continue_as_new') return;
      trace?.(
        `${now - failureAt} ${JSON.stringify(action).slice(0, 160)} | qfpay ${qfpay.fingerprint()} ${qfpay.state}` +
          ` | engine ${state.snapshot.state} ${state.snapshot.orders.map((o) => `${o.sequenceNo}:${o.status}`).join(',')} sync@${(state.lastSyncAt ?? 0) - failureAt}`,
      );
      perform(action);
      // Handlers that waited on an intent take their answers.
      for (const answered of state.resolved) state = takeOutcome(state, answered.id).state;
    }
  };

  for (let e = 0; e < events && qfpay.state !== 'CANCELLED'; e += 1) {
    runLoop();
    const wake = decide(settle(state, now), now, { continueAsNewSuggested: false });
    const r = rnd();
    if (r < 0.15) {
      // A worker outage: time passes, the loop does nothing.
      report.outages += 1;
      now += Math.floor(rnd() * cycle * 0.6);
    } else if (r < 0.3) {
      handlerEvent();
    } else if (wake.kind === 'wait' && wake.until !== null) {
      // The timer fires, a little late on a busy worker.
      now = Math.max(now, wake.until) + Math.floor(rnd() * 2 * SECOND);
    } else {
      now += Math.floor(rnd() * cycle * 0.2) + 1;
    }
    qfpay.settleProcessing(now);
    if (qfpay.tick(now, cycle)) notify(paymentFact(qfpay.current));
    // The gateway's word that its recovery ended (a third of them lost: the engine asks).
    if (qfpay.endRecovery(now, recoveryEndsAfter) && rnd() < 0.7)
      notify({ kind: 'state', subscriptionId, state: 'UNPAID', at: now + skew, source: 'notification' });
    if (state.episode === null && state.episodeHistory.length > 0 && rnd() < 0.2) break;
  }
  runLoop();
  const ids = delivered.map((e) => e.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length > 0) violate(`merchant events delivered twice: ${twice.join(', ')}`);
  report.outcome = state.episode?.stage ?? state.episodeHistory.at(-1)?.outcome ?? 'none';
  return report;
}

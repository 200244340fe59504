/**
 * Billing pauses: the merchant's pause and resume (the engine's own hold, or the gateway's pause),
 * a pause that ends at its time, and the checks of a pause request.
 */
import { type Action } from '../actions';
import {
  type BillingPause,
  type EngineState,
  gatewayOf,
  type HoldScope,
  recordEvents,
  resolveIntent,
} from '../engine-state';
import { billingPausedEvent, billingResumedEvent } from '../events/outbox';

/**
 * Ends a billing pause: dunning is planned again from `now` (attempts that fell due meanwhile
 * collapse into one, inside the charge window), and QFPay is asked first what happened meanwhile.
 */
export function resumeBilling(s: EngineState, now: number, by: 'merchant' | 'schedule'): EngineState {
  const pause = s.billingPause;
  if (!pause) return s;
  const resumed: EngineState = { ...s, billingPause: null, syncWanted: true };
  return recordEvents(
    resumed,
    [billingResumedEvent(s.subscriptionId, pause, now, by, s.legacyPauseEvents === true)],
    now,
  );
}

/** A pause whose `resumesAt` has come ends (its durable timer is the loop's wake time). */
export function resumeIfDue(s: EngineState, now: number): EngineState {
  const at = s.billingPause?.resumesAt;
  return at !== null && at !== undefined && now >= at ? resumeBilling(s, now, 'schedule') : s;
}

/**
 * What a pause or resume request stops or starts again: as asked, or (requests from before there
 * was a choice) the gateway's pause where it has one, else the engine's hold.
 */
export function holdScope(s: EngineState, intent: { scope?: HoldScope }): HoldScope {
  return intent.scope ?? (gatewayOf(s).capabilities.pause ? 'gateway' : 'dunning');
}

/** The refusal of a pause the gateway cannot make: it would go on charging the card. */
export function noPause(s: EngineState): string {
  const name = gatewayOf(s).name;
  return (
    `${name} cannot pause billing: it would go on charging the card at every billing time. ` +
    'To stop billing, cancel the subscription (POST …/cancel); to stop only the engine’s own ' +
    'retries of a failed payment, hold its dunning (POST …/dunning/hold)'
  );
}

export function resumesAtProblem(resumesAt: unknown, now: number): string | undefined {
  if (resumesAt === null) return undefined;
  if (typeof resumesAt !== 'number' || !Number.isFinite(resumesAt)) return 'resumesAt must be a time or null';
  return resumesAt <= now ? 'resumes_at must be in the future' : undefined;
}

/**
 * The merchant's pause (the gateway has paused billing) or hold (only the engine's dunning): from
 * now on no manual charge, no new episode, no final action. Pausing or holding again changes only
 * when it ends; a gateway's pause takes over a hold.
 */
export function applyPause(
  state: EngineState,
  action: Extract<Action, { kind: 'pause' }>,
  now: number,
): EngineState {
  const current = state.billingPause;
  const atGateway = action.scope === 'gateway';
  const same = current?.by === 'merchant' && (current.atGateway === true) === atGateway;
  const pause: BillingPause = same
    ? { ...current, resumesAt: action.resumesAt }
    : {
        since: now,
        resumesAt: action.resumesAt,
        by: 'merchant' as const,
        ...(atGateway ? { atGateway: true as const } : {}),
      };
  const paused = recordEvents(
    { ...state, billingPause: pause, retryNow: false },
    [billingPausedEvent(state.subscriptionId, pause, state.legacyPauseEvents === true)],
    now,
  );
  return resolveIntent(paused, action.intentId, { ok: true, value: { pause } });
}

/** The merchant's resume: dunning is planned again from now. */
export function applyResume(
  state: EngineState,
  action: Extract<Action, { kind: 'resume' }>,
  now: number,
): EngineState {
  return resolveIntent(resumeBilling(state, now, 'merchant'), action.intentId, {
    ok: true,
    value: { resumedAt: now },
  });
}

/**
 * The merchant events a fact or a dunning step implies, with ids derived from the fact itself
 * (order, state, time), never from the workflow run: the same fact yields the same id in any run,
 * so a delivery workflow per id (started with a reuse policy that refuses duplicates) sends it
 * once, and a receiver can deduplicate on it across runs.
 *
 * Pure; the caller adds `created_at` and `subscription_id`.
 */
import type { DunningEpisode } from '../episode/dunning-episode';
import type { MerchantEvent, MerchantEventData, MerchantEventType } from './merchant-events';
import type { DunningFinalAction } from '../episode/dunning';
import type { BillingPause } from '../pause/billing-pause';
import type { ScheduledCancel } from '../cancel/scheduled-cancel-record';
import type { Fact, SubscriptionSnapshot, TransitionRecord } from '../lifecycle/lifecycle';

/** An event before the outbox stamps it. */
export type OutgoingEvent = Omit<MerchantEvent, 'created_at' | 'subscription_id'>;

const TERMINAL_STATES = ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED'] as const;
type EndedState = (typeof TERMINAL_STATES)[number];

function isEndedState(state: string): state is EndedState {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

function event<T extends MerchantEventType>(id: string, type: T, data: MerchantEventData<T>): OutgoingEvent {
  return { id, type, data } as OutgoingEvent;
}

/** The id of an event about `subscriptionId`; parts are joined with dots. */
export function merchantEventId(subscriptionId: string, ...parts: (string | number)[]): string {
  return ['evt', subscriptionId, ...parts].join('.');
}

/** The 4-digit sequence of an order, as in its id. */
function seq(sequenceNo: number): string {
  return String(sequenceNo).padStart(4, '0');
}

/**
 * The events of one applied fact: its state change (and the end, once per subscription), and for
 * a payment report its success (once per order) or its failure (once per failed attempt).
 */
export function eventsOfFact(
  subscriptionId: string,
  fact: Fact,
  transition: TransitionRecord | undefined,
): OutgoingEvent[] {
  const events: OutgoingEvent[] = [];
  if (transition) {
    events.push(
      event(
        merchantEventId(subscriptionId, 'state', transition.to, transition.at),
        'subscription.state_changed',
        {
          from: transition.from,
          to: transition.to,
          cause: transition.cause,
        },
      ),
    );
    if (isEndedState(transition.to)) {
      events.push(
        event(merchantEventId(subscriptionId, 'ended'), 'subscription.ended', { final_state: transition.to }),
      );
    }
  }
  if (fact.kind === 'payment') {
    const data = {
      order_id: fact.orderId,
      sequence_no: fact.sequenceNo,
      amount: fact.amount,
      currency: fact.currency,
      respcd: fact.respcd,
    };
    events.push(
      fact.succeeded
        ? event(
            merchantEventId(subscriptionId, 'paid', seq(fact.sequenceNo)),
            'subscription.payment_succeeded',
            data,
          )
        : event(
            merchantEventId(subscriptionId, 'payment_failed', seq(fact.sequenceNo), fact.syssn ?? fact.at),
            'subscription.payment_failed',
            data,
          ),
    );
  }
  return events;
}

/**
 * A `payment_succeeded` for every order that became PAID between two snapshots, whatever fact told
 * the engine (the id is the payment notification's, so the two never report it twice). With
 * `since`, orders paid before that QFPay time are history (an adopted subscription's past).
 */
export function paidOrderEvents(
  subscriptionId: string,
  before: SubscriptionSnapshot,
  after: SubscriptionSnapshot,
  { since }: { since: number | null },
): OutgoingEvent[] {
  const paidBefore = new Set(before.orders.filter((o) => o.status === 'PAID').map((o) => o.orderId));
  return after.orders
    .filter((o) => o.status === 'PAID' && !paidBefore.has(o.orderId))
    .filter((o) => since === null || (o.paidAt ?? o.lastAt) >= since)
    .map((o) =>
      event(merchantEventId(subscriptionId, 'paid', seq(o.sequenceNo)), 'subscription.payment_succeeded', {
        order_id: o.orderId,
        sequence_no: o.sequenceNo,
        ...(o.amount === undefined ? {} : { amount: o.amount }),
        ...(o.currency === undefined ? {} : { currency: o.currency }),
        respcd: o.respcd ?? '0000',
      }),
    );
}

/** The event of one finished dunning attempt. */
export function attemptEvent(
  subscriptionId: string,
  episode: DunningEpisode,
  attempt: number,
): OutgoingEvent[] {
  const record = episode.attempts.find((a) => a.attempt === attempt);
  if (!record) return [];
  return [
    event(
      merchantEventId(subscriptionId, 'dunning', seq(episode.sequenceNo), 'attempt', attempt),
      'subscription.dunning_attempt',
      {
        order_id: episode.orderId,
        attempt,
        scheduled_at: new Date(record.scheduledAt).toISOString(),
        result: record.result,
        respcd: record.respcd,
      },
    ),
  ];
}

/** The event of an episode the order's payment ended. */
export function recoveredEvent(subscriptionId: string, episode: DunningEpisode): OutgoingEvent {
  return event(
    merchantEventId(subscriptionId, 'dunning', seq(episode.sequenceNo), 'recovered'),
    'subscription.dunning_recovered',
    { order_id: episode.orderId, attempts: episode.attempts.length },
  );
}

/** The events of an exhausted episode: one per escalation step, in order, then the exhaustion itself. */
export function exhaustedEvents(
  subscriptionId: string,
  episode: DunningEpisode,
  steps: readonly ('notify_customer' | 'notify_operations')[],
  finalAction: DunningFinalAction,
): OutgoingEvent[] {
  const base = { order_id: episode.orderId, attempts: episode.attempts.length, final_action: finalAction };
  const key = merchantEventId(subscriptionId, 'dunning', seq(episode.sequenceNo), 'exhausted');
  return [
    ...steps.map((step) => event(`${key}.${step}`, 'subscription.dunning_exhausted', { ...base, step })),
    event(key, 'subscription.dunning_exhausted', base),
  ];
}

/** The event of a pause (the gateway's) or a hold (the engine's dunning only): no manual charge until it ends. */
export function billingPausedEvent(
  subscriptionId: string,
  pause: BillingPause,
  legacy = false,
): OutgoingEvent {
  const resumesAt = pause.resumesAt === null ? null : new Date(pause.resumesAt).toISOString();
  // The gateway paused billing, or only the engine's dunning is held (the gateway goes on billing).
  // Runs recorded before the hold had its own name called both a billing pause.
  return pause.atGateway || legacy
    ? event(merchantEventId(subscriptionId, 'billing_paused', pause.since), 'subscription.billing_paused', {
        paused_by: pause.by,
        resumes_at: resumesAt,
      })
    : event(merchantEventId(subscriptionId, 'dunning_held', pause.since), 'subscription.dunning_held', {
        held_by: pause.by,
        until: resumesAt,
      });
}

/** The event of the end of a pause or hold: dunning is planned again from now. */
export function billingResumedEvent(
  subscriptionId: string,
  pause: BillingPause,
  at: number,
  by: 'merchant' | 'schedule',
  legacy = false,
): OutgoingEvent {
  const since = new Date(pause.since).toISOString();
  return pause.atGateway || legacy
    ? event(merchantEventId(subscriptionId, 'billing_resumed', pause.since), 'subscription.billing_resumed', {
        resumed_by: by,
        paused_since: since,
        resumed_at: new Date(at).toISOString(),
      })
    : event(
        merchantEventId(subscriptionId, 'dunning_released', pause.since),
        'subscription.dunning_released',
        {
          released_by: by,
          held_since: since,
          released_at: new Date(at).toISOString(),
        },
      );
}

/** The event of a cancel scheduled for the period's end. */
export function cancelScheduledEvent(
  subscriptionId: string,
  scheduled: ScheduledCancel,
  cancelAt: number,
): OutgoingEvent {
  return event(
    merchantEventId(subscriptionId, 'cancel_scheduled', scheduled.since),
    'subscription.cancel_scheduled',
    {
      period_end: new Date(scheduled.periodEnd).toISOString(),
      cancel_at: new Date(cancelAt).toISOString(),
    },
  );
}

/** The event of a scheduled cancel taken back. */
export function cancelUnscheduledEvent(subscriptionId: string, scheduled: ScheduledCancel): OutgoingEvent {
  return event(
    merchantEventId(subscriptionId, 'cancel_unscheduled', scheduled.since),
    'subscription.cancel_unscheduled',
    {
      period_end: new Date(scheduled.periodEnd).toISOString(),
      scheduled_at: new Date(scheduled.since).toISOString(),
    },
  );
}

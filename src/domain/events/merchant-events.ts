/**
 * The merchant events the engine records, as plain types: what the domain's decisions put in the
 * outbox. Their schemas (what a merchant's receiver can rely on, with the rules of each field) are
 * in `src/events/merchant-events.ts`, which checks at compile time that they describe exactly
 * these types.
 */
import type { DUNNING_ATTEMPT_RESULTS, DunningFinalAction, EscalationStep } from '../episode/dunning';

/** The terminal states a subscription can end in. */
export const ENDED_STATES = ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED'] as const;

/** `data` of `subscription.state_changed`. */
export interface StateChangedData {
  /** The previous state; `UNKNOWN` when the engine had none. */
  from: string;
  /** The new state. */
  to: string;
  /** Why it changed, e.g. `Retry Failed`, `Manual cancel`, `reconciled`. */
  cause: string;
}

/** `data` of `subscription.payment_succeeded` and `subscription.payment_failed`. */
export interface PaymentData {
  /** The gateway's order id (QFPay's `sub_ord_…`). */
  order_id: string;
  /** The billing cycle the order pays for, from 1. */
  sequence_no: number;
  /** Amount in the currency's minor unit; absent when the gateway did not report it. */
  amount?: number | null;
  /** ISO 4217 code; absent when the gateway did not report it. */
  currency?: string | null;
  /** The gateway's return code; `0000` is paid. */
  respcd: string;
}

/** `data` of `subscription.dunning_attempt`. */
export interface DunningAttemptData {
  order_id: string;
  /** Which attempt of the episode this was, from 1. */
  attempt: number;
  /** When the attempt was scheduled to run, ISO-8601. */
  scheduled_at: string;
  result: (typeof DUNNING_ATTEMPT_RESULTS)[number];
  respcd?: string | null;
}

/** `data` of `subscription.dunning_recovered`. */
export interface DunningRecoveredData {
  order_id: string;
  attempts: number;
}

/** `data` of `subscription.dunning_exhausted`. */
export interface DunningExhaustedData {
  order_id: string;
  attempts: number;
  final_action: DunningFinalAction;
  step?: EscalationStep;
}

/** `data` of `subscription.billing_paused`. */
export interface BillingPausedData {
  paused_by: 'merchant' | 'final_action';
  resumes_at: string | null;
}

/** `data` of `subscription.billing_resumed`. */
export interface BillingResumedData {
  resumed_by: 'merchant' | 'schedule';
  paused_since: string;
  resumed_at: string;
}

/** `data` of `subscription.dunning_held`. */
export interface DunningHeldData {
  held_by: 'merchant' | 'final_action';
  until: string | null;
}

/** `data` of `subscription.dunning_released`. */
export interface DunningReleasedData {
  released_by: 'merchant' | 'schedule';
  held_since: string;
  released_at: string;
}

/** `data` of `subscription.cancel_scheduled`. */
export interface CancelScheduledData {
  /** The billing time the customer is not billed at, ISO-8601. */
  period_end: string;
  /** When the engine cancels at the gateway, ISO-8601 (before `period_end` by the policy's margins). */
  cancel_at: string;
}

/** `data` of `subscription.cancel_unscheduled`. */
export interface CancelUnscheduledData {
  /** The period end the cancel was scheduled for, ISO-8601. */
  period_end: string;
  /** When it had been scheduled, ISO-8601. */
  scheduled_at: string;
}

/** `data` of `subscription.ended`. */
export interface EndedData {
  final_state: (typeof ENDED_STATES)[number];
}

/** `data` of `subscription.renewal_upcoming`: the next billing, announced ahead. */
export interface RenewalUpcomingData {
  /** The billing time announced, ISO-8601. */
  billing_time: string;
  /** The order (billing cycle) it bills, from 1. */
  sequence_no: number;
  /** Minor units; null when the gateway could not say when asked. */
  amount: number | null;
  currency: string | null;
}

/** `data` of `subscription.trial_will_end`. */
export interface TrialWillEndData {
  /** When the trial ends: the first billing time, ISO-8601. */
  trial_end: string;
  /** What the first billing charges (minor units); null when the gateway could not say. */
  amount: number | null;
  currency: string | null;
}

/** `data` of `payment_method.expiring`: the card token expires before the next billing. */
export interface PaymentMethodExpiringData {
  token_id: string;
  /** The token's expiry (QFPay's `token_expiry_date`), ISO-8601. */
  expires_at: string;
  /** The billing time it would fail at, ISO-8601. */
  billing_time: string;
  sequence_no: number;
}

/** The `data` of every event type. */
export interface MerchantEventDataMap {
  'subscription.state_changed': StateChangedData;
  'subscription.payment_succeeded': PaymentData;
  'subscription.payment_failed': PaymentData;
  'subscription.dunning_attempt': DunningAttemptData;
  'subscription.dunning_recovered': DunningRecoveredData;
  'subscription.dunning_exhausted': DunningExhaustedData;
  'subscription.billing_paused': BillingPausedData;
  'subscription.billing_resumed': BillingResumedData;
  'subscription.dunning_held': DunningHeldData;
  'subscription.dunning_released': DunningReleasedData;
  'subscription.cancel_scheduled': CancelScheduledData;
  'subscription.cancel_unscheduled': CancelUnscheduledData;
  'subscription.ended': EndedData;
  'subscription.renewal_upcoming': RenewalUpcomingData;
  'subscription.trial_will_end': TrialWillEndData;
  'payment_method.expiring': PaymentMethodExpiringData;
}

/** One event type. */
export type MerchantEventType = keyof MerchantEventDataMap;

/** The `data` of an event of type `T`. */
export type MerchantEventData<T extends MerchantEventType> = MerchantEventDataMap[T];

/** The event of type `T`. */
export interface MerchantEventOf<T extends MerchantEventType> {
  /** Unique and deterministic: the same fact always yields the same id. */
  id: string;
  type: T;
  /**
   * When the engine recorded the event (workflow time), ISO-8601; on a test clock, the clock's
   * time, and `test_clock` names the clock.
   */
  created_at: string;
  /** The test clock the subscription lives on: its times are the clock's. Absent on real time. */
  test_clock?: string;
  /** The engine's subscription id. */
  subscription_id: string;
  /** The subscription's metadata when the event was recorded; absent when it has none. */
  metadata?: Record<string, string>;
  data: MerchantEventDataMap[T];
}

/** Any merchant event, discriminated by `type`. */
export type MerchantEvent = { [T in MerchantEventType]: MerchantEventOf<T> }[MerchantEventType];

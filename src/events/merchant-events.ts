/**
 * Events the engine sends to the merchant's own webhook endpoint, and their signature.
 *
 * Envelope: `{ id, type, created_at, subscription_id, data }`, plain JSON. The `id` is supplied
 * by the caller and deterministic (the workflow derives it), so a redelivered event keeps its id
 * and the receiver can deduplicate on it.
 *
 * Signature: the Standard Webhooks specification (https://www.standardwebhooks.com), made by its
 * official `standardwebhooks` library. Headers `webhook-id` (the event's `id`),
 * `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature` (`v1,<base64>`, one
 * per secret during a rotation, separated by spaces); secrets are `whsec_<base64>`.
 *
 * Workflow code may import this module's *types* only: the library is not deterministic code.
 */
import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { DUNNING_ATTEMPT_RESULTS, DUNNING_FINAL_ACTIONS, ESCALATION_STEPS } from '../domain/episode/dunning';
import {
  ENDED_STATES,
  type MerchantEvent,
  type MerchantEventDataMap,
  type MerchantEventType,
} from '../domain/events/merchant-events';

export {
  ENDED_STATES,
  type MerchantEvent,
  type MerchantEventData,
  type MerchantEventOf,
  type MerchantEventType,
} from '../domain/events/merchant-events';

export { DUNNING_ATTEMPT_RESULTS } from '../domain/episode/dunning';

/** The HTTP headers of a merchant event delivery (Standard Webhooks). */
export const MERCHANT_EVENT_HEADERS = {
  /** The event's `id`, the same on every attempt: the receiver's idempotency key. */
  id: 'webhook-id',
  /** When this attempt was signed, unix seconds. */
  timestamp: 'webhook-timestamp',
  /** `v1,<base64 HMAC-SHA256>`; during a rotation one per secret, separated by a space. */
  signature: 'webhook-signature',
} as const;

/** The headers of one attempt. */
export type MerchantEventHeaders = Record<
  (typeof MERCHANT_EVENT_HEADERS)[keyof typeof MERCHANT_EVENT_HEADERS],
  string
>;

/** The prefix of a Standard Webhooks symmetric secret. */
export const SECRET_PREFIX = 'whsec_';
/** The specification's bounds on a secret's size, in bytes (24 to 64). */
export const SECRET_BYTES = { min: 24, max: 64 } as const;

/** Why a `whsec_…` secret is not usable, or undefined when it is. Never quotes the secret. */
export function merchantEventSecretProblem(secret: string): string | undefined {
  if (!secret.startsWith(SECRET_PREFIX))
    return `must start with ${SECRET_PREFIX} (a Standard Webhooks secret)`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return `must be ${SECRET_PREFIX} followed by base64 (e.g. ${SECRET_PREFIX}$(openssl rand -base64 32))`;
  }
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < SECRET_BYTES.min || bytes > SECRET_BYTES.max) {
    return `holds ${bytes} bytes; give ${SECRET_BYTES.min} to ${SECRET_BYTES.max} random bytes (openssl rand -base64 32)`;
  }
  return undefined;
}

/** A subscription state name as QFPay spells it (`ACTIVE`, `PAST_DUE`, …), or `UNKNOWN` before the first fact. */
const StateNameSchema = z.string().regex(/^[A-Z][A-Z_]*$/, 'an upper-case state name such as ACTIVE');
const OrderIdSchema = z.string().min(1);
const IsoTimeSchema = z.iso.datetime({ offset: true });

/** `data` of `subscription.state_changed`. */
export const StateChangedDataSchema = z.object({
  /** The previous state; `UNKNOWN` when the engine had none. */
  from: StateNameSchema,
  /** The new state. */
  to: StateNameSchema,
  /** Why it changed, e.g. `Retry Failed`, `Manual cancel`, `reconciled`. */
  cause: z.string().min(1),
});

/** `data` of `subscription.payment_succeeded` and `subscription.payment_failed`. */
export const PaymentDataSchema = z.object({
  /** QFPay's subscription order id, `sub_ord_…`. */
  order_id: OrderIdSchema,
  /** The billing cycle the order pays for, from 1. */
  sequence_no: z.number().int().positive(),
  /** Amount in the currency's minor unit (QFPay's `txamt`); absent when QFPay did not report it. */
  amount: z.number().int().nonnegative().nullish(),
  /** ISO 4217 code (QFPay's `txcurrcd`); absent when QFPay did not report it. */
  currency: z.string().min(1).nullish(),
  /** QFPay's return code; `0000` is paid. */
  respcd: z.string().min(1),
});

/** `data` of `subscription.dunning_attempt`. */
export const DunningAttemptDataSchema = z.object({
  /** The failed order being recovered. */
  order_id: OrderIdSchema,
  /** Which attempt of the episode this was, from 1. */
  attempt: z.number().int().positive(),
  /** When the attempt was scheduled to run, ISO-8601. */
  scheduled_at: IsoTimeSchema,
  /** See {@link DUNNING_ATTEMPT_RESULTS}. */
  result: z.enum(DUNNING_ATTEMPT_RESULTS),
  /** QFPay's return code for the attempt; absent when it gave none. */
  respcd: z.string().min(1).nullish(),
});

/** `data` of `subscription.dunning_recovered`. */
export const DunningRecoveredDataSchema = z.object({
  /** The order that is now paid. */
  order_id: OrderIdSchema,
  /** Manual charge attempts made in the episode (0 when the payment came from elsewhere). */
  attempts: z.number().int().nonnegative(),
});

/** `data` of `subscription.dunning_exhausted`. */
export const DunningExhaustedDataSchema = z.object({
  /** The order that stays unpaid. */
  order_id: OrderIdSchema,
  /** Manual charge attempts made in the episode. */
  attempts: z.number().int().nonnegative(),
  /** What the engine does next, from the dunning policy. */
  final_action: z.enum(DUNNING_FINAL_ACTIONS),
  /**
   * Present when the event is one escalation step of the policy: `notify_customer` asks the
   * merchant to reach the customer, `notify_operations` its operations team.
   */
  step: z.enum(ESCALATION_STEPS).optional(),
});

/** `data` of `subscription.billing_paused`. */
export const BillingPausedDataSchema = z.object({
  /** `merchant` (the pause route; `final_action` in runs recorded before the hold had its own name). */
  paused_by: z.enum(['merchant', 'final_action']),
  /** When the engine resumes by itself, ISO-8601; null: until the merchant resumes. */
  resumes_at: IsoTimeSchema.nullable(),
});

/** `data` of `subscription.billing_resumed`. */
export const BillingResumedDataSchema = z.object({
  /** `merchant` (the resume route) or `schedule` (the pause's `resumes_at` came). */
  resumed_by: z.enum(['merchant', 'schedule']),
  /** When the pause began, ISO-8601. */
  paused_since: IsoTimeSchema,
  /** When it ended, ISO-8601. */
  resumed_at: IsoTimeSchema,
});

/** `data` of `subscription.dunning_held`. */
export const DunningHeldDataSchema = z.object({
  /** `merchant` (the hold route) or `final_action` (an exhausted episode's `hold_dunning`). */
  held_by: z.enum(['merchant', 'final_action']),
  /** When the hold ends by itself, ISO-8601; null: until the merchant releases it. */
  until: IsoTimeSchema.nullable(),
});

/** `data` of `subscription.dunning_released`. */
export const DunningReleasedDataSchema = z.object({
  /** `merchant` (the release route) or `schedule` (the hold's `until` came). */
  released_by: z.enum(['merchant', 'schedule']),
  /** When the hold began, ISO-8601. */
  held_since: IsoTimeSchema,
  /** When it ended, ISO-8601. */
  released_at: IsoTimeSchema,
});

/** `data` of `subscription.cancel_scheduled`. */
export const CancelScheduledDataSchema = z.object({
  /** The billing time the customer is not billed at, ISO-8601: the period's end when it was scheduled. */
  period_end: IsoTimeSchema,
  /** When the engine cancels at the gateway, ISO-8601: before `period_end` by the policy's safety margin and minimum attempt window. */
  cancel_at: IsoTimeSchema,
});

/** `data` of `subscription.cancel_unscheduled`. */
export const CancelUnscheduledDataSchema = z.object({
  /** The period end the cancel was scheduled for, ISO-8601. */
  period_end: IsoTimeSchema,
  /** When it had been scheduled, ISO-8601. */
  scheduled_at: IsoTimeSchema,
});

/** `data` of `subscription.ended`. */
export const EndedDataSchema = z.object({
  /** The terminal state. */
  final_state: z.enum(ENDED_STATES),
});

/** `data` of `subscription.renewal_upcoming`. */
export const RenewalUpcomingDataSchema = z.object({
  /** The billing time announced, ISO-8601. */
  billing_time: IsoTimeSchema,
  /** The order (billing cycle) it bills, from 1. */
  sequence_no: z.number().int().min(1),
  /** Minor units; null when the gateway could not say when asked. */
  amount: z.number().int().nullable(),
  /** ISO 4217; null when the gateway could not say. */
  currency: z.string().nullable(),
});

/** `data` of `subscription.trial_will_end`. */
export const TrialWillEndDataSchema = z.object({
  /** When the trial ends: the first billing time, ISO-8601. */
  trial_end: IsoTimeSchema,
  /** What the first billing charges (minor units); null when the gateway could not say. */
  amount: z.number().int().nullable(),
  currency: z.string().nullable(),
});

/** `data` of `payment_method.expiring`. */
export const PaymentMethodExpiringDataSchema = z.object({
  /** The subscription's card token. */
  token_id: z.string().min(1),
  /** The token's expiry (QFPay's `token_expiry_date`), ISO-8601. */
  expires_at: IsoTimeSchema,
  /** The billing time it would fail at, ISO-8601. */
  billing_time: IsoTimeSchema,
  sequence_no: z.number().int().min(1),
});

/** The `data` schema of every event type. */
export const MERCHANT_EVENT_DATA_SCHEMAS = {
  'subscription.state_changed': StateChangedDataSchema,
  'subscription.payment_succeeded': PaymentDataSchema,
  'subscription.payment_failed': PaymentDataSchema,
  'subscription.dunning_attempt': DunningAttemptDataSchema,
  'subscription.dunning_recovered': DunningRecoveredDataSchema,
  'subscription.dunning_exhausted': DunningExhaustedDataSchema,
  'subscription.billing_paused': BillingPausedDataSchema,
  'subscription.billing_resumed': BillingResumedDataSchema,
  'subscription.dunning_held': DunningHeldDataSchema,
  'subscription.dunning_released': DunningReleasedDataSchema,
  'subscription.cancel_scheduled': CancelScheduledDataSchema,
  'subscription.cancel_unscheduled': CancelUnscheduledDataSchema,
  'subscription.ended': EndedDataSchema,
  'subscription.renewal_upcoming': RenewalUpcomingDataSchema,
  'subscription.trial_will_end': TrialWillEndDataSchema,
  'payment_method.expiring': PaymentMethodExpiringDataSchema,
} as const;

/** Every event type, in the order the documentation lists them. */
export const MERCHANT_EVENT_TYPES = Object.keys(MERCHANT_EVENT_DATA_SCHEMAS) as MerchantEventType[];

function envelope<T extends MerchantEventType>(type: T) {
  return z.object({
    /** Unique and deterministic: the same fact always yields the same id. */
    id: z.string().min(1).max(255),
    type: z.literal(type),
    /** When the engine recorded the event (workflow time), ISO-8601; on a test clock, the clock's time. */
    created_at: IsoTimeSchema,
    /** The test clock the subscription lives on (its times are the clock's); absent on real time. */
    test_clock: z.string().min(1).optional(),
    /** QFPay's subscription id, `sub_…`. */
    subscription_id: z.string().min(1),
    /** The subscription's metadata when the event was recorded; absent when it has none. */
    metadata: z.record(z.string(), z.string()).optional(),
    data: MERCHANT_EVENT_DATA_SCHEMAS[type],
  });
}

/** Any merchant event, discriminated by `type`. */
export const MerchantEventSchema = z.discriminatedUnion('type', [
  envelope('subscription.state_changed'),
  envelope('subscription.payment_succeeded'),
  envelope('subscription.payment_failed'),
  envelope('subscription.dunning_attempt'),
  envelope('subscription.dunning_recovered'),
  envelope('subscription.dunning_exhausted'),
  envelope('subscription.billing_paused'),
  envelope('subscription.billing_resumed'),
  envelope('subscription.dunning_held'),
  envelope('subscription.dunning_released'),
  envelope('subscription.cancel_scheduled'),
  envelope('subscription.cancel_unscheduled'),
  envelope('subscription.ended'),
  envelope('subscription.renewal_upcoming'),
  envelope('subscription.trial_will_end'),
  envelope('payment_method.expiring'),
]);

/** Exactly the same type, both ways (a compile-time check). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** The schemas describe exactly the domain's event types (`src/domain/events/merchant-events.ts`). */
export const SCHEMAS_MATCH_THE_DOMAIN: Same<z.infer<typeof MerchantEventSchema>, MerchantEvent> &
  Same<keyof typeof MERCHANT_EVENT_DATA_SCHEMAS, MerchantEventType> &
  Same<{ [T in MerchantEventType]: z.infer<(typeof MERCHANT_EVENT_DATA_SCHEMAS)[T]> }, MerchantEventDataMap> =
  true;

/**
 * The Standard Webhooks headers for one attempt at sending `rawBody`.
 *
 * @param id the event's `id` (sent as `webhook-id`, the same on every attempt)
 * @param rawBody the exact bytes that will be sent
 * @param secrets `whsec_…` secrets; during a rotation each signs (the newest first)
 * @param timestampSec the attempt's time in whole unix seconds
 * @throws {TypeError} for no secret, a secret that is not `whsec_<base64>`, or a bad timestamp
 */
export function signMerchantEvent(
  id: string,
  rawBody: string,
  secrets: readonly string[],
  timestampSec: number,
): MerchantEventHeaders {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new TypeError('the signature timestamp must be whole unix seconds');
  }
  if (secrets.length === 0) throw new TypeError('a merchant event needs at least one secret');
  const at = new Date(timestampSec * 1000);
  const signatures = secrets.map((secret) => {
    const problem = merchantEventSecretProblem(secret);
    if (problem !== undefined) throw new TypeError(`a merchant event secret ${problem}`);
    return new Webhook(secret).sign(id, at, rawBody);
  });
  return {
    [MERCHANT_EVENT_HEADERS.id]: id,
    [MERCHANT_EVENT_HEADERS.timestamp]: String(timestampSec),
    [MERCHANT_EVENT_HEADERS.signature]: signatures.join(' '),
  };
}

/** How far a signature's timestamp may be from the receiver's clock, by default: five minutes (the libraries' own). */
export const DEFAULT_SIGNATURE_TOLERANCE_SEC = 300;

/** Why a delivery was refused. */
export type MerchantEventSignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'too_old' | 'too_new';

/** The outcome of {@link verifyMerchantEvent}. */
export type MerchantEventVerification =
  { ok: true; id: string; timestamp: number } | { ok: false; reason: MerchantEventSignatureFailure };

/** Options of {@link verifyMerchantEvent}. */
export interface VerifyMerchantEventOptions {
  /** How far, in seconds, the signed timestamp may be from `nowSec` either way. @default 300 */
  toleranceSec?: number;
  /** The receiver's current time in unix seconds. @default the system clock */
  nowSec?: number;
}

/** Request headers as Node or `fetch` give them. */
export type MerchantEventRequestHeaders =
  Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** A header's one value; null when it came more than once. */
function headerOf(headers: MerchantEventRequestHeaders, name: string): string | null | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  const value = entry?.[1];
  // A header repeated is not one this scheme sends.
  if (Array.isArray(value)) return value.length === 1 ? (value[0] as string) : null;
  return value as string | undefined;
}

/**
 * Verifies a delivery as a merchant's receiver does, with the same library that signs it (the
 * official `standardwebhooks` package computes the expected signature; the comparison takes
 * constant time). The signature is checked before the timestamp, so an unsigned request learns
 * nothing about the receiver's clock. Unlike the library's own `verify`, the tolerance can be
 * widened (a test harness that moves clocks), and the answer says why a delivery was refused.
 *
 * @param rawBody the request body exactly as received (never re-serialised JSON)
 * @param headers the request's headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
 * @param secrets the `whsec_…` secret, or several during a rotation (any may match)
 */
export function verifyMerchantEvent(
  rawBody: string | Buffer,
  headers: MerchantEventRequestHeaders,
  secrets: string | readonly string[],
  options: VerifyMerchantEventOptions = {},
): MerchantEventVerification {
  const id = headerOf(headers, MERCHANT_EVENT_HEADERS.id);
  const timestamp = headerOf(headers, MERCHANT_EVENT_HEADERS.timestamp);
  const signature = headerOf(headers, MERCHANT_EVENT_HEADERS.signature);
  if (id === null || timestamp === null || signature === null) return { ok: false, reason: 'malformed' };
  if (!id?.trim() || !timestamp?.trim() || !signature?.trim()) return { ok: false, reason: 'missing' };
  if (!/^\d{1,15}$/.test(timestamp.trim())) return { ok: false, reason: 'malformed' };
  const timestampSec = Number(timestamp.trim());
  const candidates = signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3)));
  if (candidates.length === 0) return { ok: false, reason: 'malformed' };

  const list = typeof secrets === 'string' ? [secrets] : secrets;
  let matched = false;
  for (const secret of list) {
    const expected = Buffer.from(
      new Webhook(secret).sign(id, new Date(timestampSec * 1000), rawBody).slice(3),
    );
    for (const candidate of candidates) {
      // Not short-circuited: the time taken does not reveal which secret or signature matched.
      matched = (candidate.length === expected.length && timingSafeEqual(candidate, expected)) || matched;
    }
  }
  if (!matched) return { ok: false, reason: 'mismatch' };
  const toleranceSec = options.toleranceSec ?? DEFAULT_SIGNATURE_TOLERANCE_SEC;
  const nowSec = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (nowSec - timestampSec > toleranceSec) return { ok: false, reason: 'too_old' };
  if (timestampSec - nowSec > toleranceSec) return { ok: false, reason: 'too_new' };
  return { ok: true, id, timestamp: timestampSec };
}

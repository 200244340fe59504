/**
 * Events the engine sends to the merchant's own webhook endpoint, and their signature.
 *
 * Envelope: `{ id, type, created_at, subscription_id, data }`, plain JSON. The `id` is supplied
 * by the caller and deterministic (the workflow derives it), so a redelivered event keeps its id
 * and the receiver can deduplicate on it.
 *
 * Signature, in the manner of Stripe's: header `X-Engine-Signature: t=<unix seconds>,v1=<hex>`
 * where `<hex>` is HMAC-SHA256 of `"<t>.<raw body>"` keyed with the endpoint secret. During a
 * secret rotation the header carries one `v1=` per secret; a receiver accepts any that matches.
 *
 * Workflow code may import this module's *types* only: it uses `node:crypto`.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { signaturesEqual } from '../qfpay/signing';
import { DUNNING_FINAL_ACTIONS, ESCALATION_STEPS } from '../workflows/dunning';

/** The HTTP headers of a merchant event delivery. */
export const MERCHANT_EVENT_HEADERS = {
  /** `t=<unix seconds>,v1=<hex HMAC-SHA256>` (one `v1` per active secret). */
  signature: 'X-Engine-Signature',
  /** The event's `id`, for deduplication before parsing the body. */
  eventId: 'X-Engine-Event-Id',
  /** The event's `type`. */
  eventType: 'X-Engine-Event-Type',
} as const;

/** How far a signature's timestamp may be from the receiver's clock, by default: five minutes. */
export const DEFAULT_SIGNATURE_TOLERANCE_SEC = 300;

/** The signature scheme this engine writes and reads. */
const SIGNATURE_SCHEME = 'v1';

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

/**
 * The outcome of one manual charge attempt: QFPay's answer (`succeeded`, `failed`, or `pending`
 * when it has not settled the charge yet, e.g. `1143`, `1145`), `error` when no answer came
 * before the attempt's deadline, `skipped` when the attempt was called off.
 */
export const DUNNING_ATTEMPT_RESULTS = ['succeeded', 'failed', 'pending', 'error', 'skipped'] as const;

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
  /** `merchant` (the pause route) or `final_action` (an exhausted episode's `pause_billing`). */
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

/** The terminal states a subscription can end in. */
export const ENDED_STATES = ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED'] as const;

/** `data` of `subscription.ended`. */
export const EndedDataSchema = z.object({
  /** The terminal state. */
  final_state: z.enum(ENDED_STATES),
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
  'subscription.ended': EndedDataSchema,
} as const;

/** Every event type, in the order the documentation lists them. */
export const MERCHANT_EVENT_TYPES = Object.keys(MERCHANT_EVENT_DATA_SCHEMAS) as MerchantEventType[];

/** One event type. */
export type MerchantEventType = keyof typeof MERCHANT_EVENT_DATA_SCHEMAS;

/** The `data` of an event of type `T`. */
export type MerchantEventData<T extends MerchantEventType> = z.infer<(typeof MERCHANT_EVENT_DATA_SCHEMAS)[T]>;

function envelope<T extends MerchantEventType>(type: T) {
  return z.object({
    /** Unique and deterministic: the same fact always yields the same id. */
    id: z.string().min(1).max(255),
    type: z.literal(type),
    /** When the engine recorded the event (workflow time), ISO-8601. */
    created_at: IsoTimeSchema,
    /** QFPay's subscription id, `sub_…`. */
    subscription_id: z.string().min(1),
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
  envelope('subscription.ended'),
]);

/** Any merchant event. */
export type MerchantEvent = z.infer<typeof MerchantEventSchema>;

/** The event of type `T`. */
export type MerchantEventOf<T extends MerchantEventType> = Extract<MerchantEvent, { type: T }>;

function hmacHex(secret: string, timestampSec: number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSec}.`, 'utf8').update(rawBody).digest('hex');
}

function secretList(secret: string | readonly string[]): readonly string[] {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) {
    throw new TypeError('a merchant event secret must be a non-empty string');
  }
  return secrets;
}

/**
 * Signs a serialised event for the `X-Engine-Signature` header.
 *
 * @param rawBody the exact bytes that will be sent
 * @param secret the endpoint secret, or several during a rotation (one `v1=` each, in order)
 * @param timestampSec the signing time in whole unix seconds
 * @returns the header value, `t=<timestampSec>,v1=<hex>[,v1=<hex>…]`
 * @throws {TypeError} for an empty secret or a timestamp that is not a non-negative integer
 */
export function signMerchantEvent(
  rawBody: string | Buffer,
  secret: string | readonly string[],
  timestampSec: number,
): string {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new TypeError('the signature timestamp must be whole unix seconds');
  }
  const signatures = secretList(secret).map(
    (s) => `${SIGNATURE_SCHEME}=${hmacHex(s, timestampSec, rawBody)}`,
  );
  return [`t=${timestampSec}`, ...signatures].join(',');
}

/** Why a signature was refused. */
export type MerchantEventSignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'too_old' | 'too_new';

/** The outcome of {@link verifyMerchantEvent}. */
export type MerchantEventVerification =
  { ok: true; timestamp: number } | { ok: false; reason: MerchantEventSignatureFailure };

/** Options of {@link verifyMerchantEvent}. */
export interface VerifyMerchantEventOptions {
  /**
   * How far, in seconds, the signed timestamp may be from `nowSec` either way.
   * @default 300
   */
  toleranceSec?: number;
  /**
   * The receiver's current time in unix seconds.
   * @default the system clock
   */
  nowSec?: number;
}

function parseSignatureHeader(header: string): { timestamp: number; signatures: string[] } | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator <= 0) return undefined;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === SIGNATURE_SCHEME) {
      signatures.push(value);
    }
    // Other schemes are ignored, so a future scheme can be added alongside v1.
  }
  if (timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}

/**
 * Verifies an `X-Engine-Signature` header against the raw request body, as a merchant's
 * receiver does. The signature is checked before the timestamp, so an unsigned request learns
 * nothing about the receiver's clock; comparisons take constant time.
 *
 * @param rawBody the request body exactly as received (never re-serialised JSON)
 * @param header the `X-Engine-Signature` header value
 * @param secret the endpoint secret, or several during a rotation (any may match)
 * @param options tolerance and the current time
 * @returns `{ ok: true, timestamp }` (the signed unix seconds), or `{ ok: false, reason }`
 */
export function verifyMerchantEvent(
  rawBody: string | Buffer,
  header: string | readonly string[] | null | undefined,
  secret: string | readonly string[],
  options: VerifyMerchantEventOptions = {},
): MerchantEventVerification {
  const secrets = secretList(secret);
  // Node gives a repeated header as an array; a signature header must appear once.
  if (Array.isArray(header) && header.length > 1) return { ok: false, reason: 'malformed' };
  const value = (Array.isArray(header) ? header[0] : header) as string | null | undefined;
  if (value === undefined || value === null || value.trim() === '') return { ok: false, reason: 'missing' };

  const parsed = parseSignatureHeader(value);
  if (!parsed) return { ok: false, reason: 'malformed' };

  let matched = false;
  for (const s of secrets) {
    const expected = hmacHex(s, parsed.timestamp, rawBody);
    for (const candidate of parsed.signatures) {
      // Not short-circuited: the time taken does not reveal which secret or signature matched.
      matched = signaturesEqual(expected, candidate) || matched;
    }
  }
  if (!matched) return { ok: false, reason: 'mismatch' };

  const toleranceSec = options.toleranceSec ?? DEFAULT_SIGNATURE_TOLERANCE_SEC;
  const nowSec = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (nowSec - parsed.timestamp > toleranceSec) return { ok: false, reason: 'too_old' };
  if (parsed.timestamp - nowSec > toleranceSec) return { ok: false, reason: 'too_new' };
  return { ok: true, timestamp: parsed.timestamp };
}

/**
 * zod schemas for QFPay's response envelope and every `data` shape the client reads, written to
 * be tolerant where QFPay is loose: unknown fields pass through, numbers may arrive as strings
 * (`"txamt": "300"`), and `""`/`null` mean "absent" (never 0). Times stay strings as QFPay sent
 * them; {@link qfpayTimeToMs} and {@link subscriptionTimesMs} turn them into epoch ms.
 *
 * This module is pure (no Node built-ins, no I/O) so workflow code may import it.
 */
import { z } from 'zod';
import { DEFAULT_QFPAY_TIME_OFFSET, parseQfpayTime } from './time';

const DECIMAL = /^[+-]?\d+(\.\d+)?$/;

/** `""`/`null` → `undefined`; a decimal string → number; anything else unchanged for zod to judge. */
function numberish(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return undefined;
    return DECIMAL.test(text) ? Number(text) : value;
  }
  return value;
}

/** A JSON string holding an object or array → the parsed value; anything else unchanged. */
function jsonish(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return value;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return value;
  }
}

/** A required integer that may arrive as a string. */
export const qfInt = z.preprocess(numberish, z.number().int());
/** An optional integer that may arrive as a string; `""`/`null` read as absent. */
export const qfOptionalInt = z.preprocess(numberish, z.number().int().optional());
/** An optional string; `null` reads as absent. Numbers (e.g. `userid`) are turned into strings. */
export const qfOptionalString = z.preprocess(
  (v) => (v === null ? undefined : typeof v === 'number' ? String(v) : v),
  z.string().optional(),
);
/** A required non-empty string; numbers are turned into strings. */
export const qfString = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().min(1));

/** A JSON object sent either as an object or as a JSON string (`billing_address`). */
const qfJsonObject = z.preprocess(
  (v) => (v === null || v === '' ? undefined : jsonish(v)),
  z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
);

// ---------------------------------------------------------------------------------------------
// Envelope

/**
 * Every response: `{ respcd, respmsg, resperr, data, page?, page_size? }`. `data` is left as
 * `unknown` here and validated per endpoint.
 */
export const envelopeSchema = z.looseObject({
  respcd: qfString,
  respmsg: qfOptionalString,
  resperr: qfOptionalString,
  data: z.unknown().optional(),
  page: qfOptionalInt,
  page_size: qfOptionalInt,
});
export type QfpayEnvelope = z.output<typeof envelopeSchema>;

/** A list `data`; `null`/absent reads as an empty list. */
function listOf<T extends z.ZodType>(row: T) {
  return z.preprocess((v) => (v === null || v === undefined ? [] : v), z.array(row));
}

/** A `data` object that may be absent or `null` on mutations that return nothing useful. */
function objectOrEmpty<T extends z.ZodType>(shape: T) {
  return z.preprocess((v) => (v === null || v === undefined || v === '' ? {} : v), shape);
}

// ---------------------------------------------------------------------------------------------
// Customer

/** A customer as `/customer/v1/create` and `/customer/v1/query` return it. */
export const customerSchema = z.looseObject({
  customer_id: qfString,
  name: qfOptionalString,
  phone: qfOptionalString,
  email: qfOptionalString,
  /** An object, or the string QFPay stored when it was not JSON. */
  billing_address: qfJsonObject,
});
export type Customer = z.output<typeof customerSchema>;

/** `data` of `/customer/v1/update`. */
export const customerUpdateSchema = customerSchema.extend({ rowAffected: qfOptionalInt });
export type CustomerUpdateResult = z.output<typeof customerUpdateSchema>;

/** `data` of `/customer/v1/delete`. */
export const customerDeleteSchema = z.looseObject({
  customer_id: qfOptionalString,
  rowDeleted: qfOptionalInt,
});
export type CustomerDeleteResult = z.output<typeof customerDeleteSchema>;

export const customerListSchema = listOf(customerSchema);

// ---------------------------------------------------------------------------------------------
// Product

const productFields = {
  product_id: qfString,
  name: qfOptionalString,
  /** `onetime` or `recurring`. */
  type: qfOptionalString,
  description: qfOptionalString,
  /** Minor units: HK$1 = 100. */
  txamt: qfOptionalInt,
  txcurrcd: qfOptionalString,
  /** `monthly`, `yearly`; the sandbox also takes minutes or hours. */
  interval: qfOptionalString,
  interval_count: qfOptionalInt,
  usage_type: qfOptionalString,
};

/** `data` of `/product/v1/create` (seed 001 promises only `product_id`; seed 002 the whole product). */
export const productCreateSchema = z.looseObject(productFields);
export type ProductCreateResult = z.output<typeof productCreateSchema>;

/** A row of `/product/v1/query`: the price fields are required there. */
export const productSchema = z.looseObject({
  ...productFields,
  name: qfString,
  txamt: qfInt,
  txcurrcd: qfString,
});
export type Product = z.output<typeof productSchema>;

/** `data` of `/product/v1/update`. */
export const productUpdateSchema = z.looseObject({ ...productFields, rowAffected: qfOptionalInt });
export type ProductUpdateResult = z.output<typeof productUpdateSchema>;

/** `data` of `/product/v1/delete`. */
export const productDeleteSchema = z.looseObject({ product_id: qfOptionalString, rowDeleted: qfOptionalInt });
export type ProductDeleteResult = z.output<typeof productDeleteSchema>;

export const productListSchema = listOf(productSchema);

// ---------------------------------------------------------------------------------------------
// Subscription

/** One product line of a subscription; `quantity` defaults to 1 at QFPay. */
export const subscriptionProductSchema = z.looseObject({ product_id: qfString, quantity: qfOptionalInt });
export type SubscriptionProduct = z.output<typeof subscriptionProductSchema>;

/** `products`, which may also arrive as a JSON string. */
const subscriptionProducts = z.preprocess(
  (v) => (v === null || v === '' ? undefined : jsonish(v)),
  z.array(subscriptionProductSchema).optional(),
);

/** `total_billing_cycles`: `null` (or absent, or `""`) means the plan bills forever. */
const totalBillingCycles = z.preprocess((v) => numberish(v) ?? null, z.number().int().nullable());

/** `data` of `/subscription/v1/create`. */
export const subscriptionCreateSchema = z.looseObject({
  subscription_id: qfString,
  /** `ACTIVE`, `INCOMPLETE` or `COMPLETED` right after creation. */
  state: qfOptionalString,
  customer_id: qfOptionalString,
  token_id: qfOptionalString,
  products: subscriptionProducts,
  total_billing_cycles: totalBillingCycles,
  start_time: qfOptionalString,
});
export type SubscriptionCreateResult = z.output<typeof subscriptionCreateSchema>;

/** `data` of `/subscription/v1/update`. */
export const subscriptionUpdateSchema = subscriptionCreateSchema.extend({ rowAffected: qfOptionalInt });
export type SubscriptionUpdateResult = z.output<typeof subscriptionUpdateSchema>;

/**
 * A row of `/subscription/v1/query`. Seed 002 names the iteration count
 * `completed_billing_iteration`, seed 001's sample `completed_iteration`: both are read and
 * exposed as `completed_billing_iteration` only.
 */
export const subscriptionSchema = z
  .looseObject({
    subscription_id: qfString,
    state: qfString,
    customer_id: qfOptionalString,
    token_id: qfOptionalString,
    products: subscriptionProducts,
    total_billing_cycles: totalBillingCycles,
    next_billing_time: qfOptionalString,
    last_billing_time: qfOptionalString,
    completed_billing_iteration: qfOptionalInt,
    completed_iteration: qfOptionalInt,
    retry_attempts: qfOptionalInt,
    /** e.g. `SUCCESS`. */
    last_billing_status: qfOptionalString,
    start_time: qfOptionalString,
  })
  .transform(({ completed_iteration, ...row }) => ({
    ...row,
    completed_billing_iteration: row.completed_billing_iteration ?? completed_iteration,
  }));
export type Subscription = z.output<typeof subscriptionSchema>;

export const subscriptionListSchema = listOf(subscriptionSchema);

/** `data` of `/subscription/v1/cancel` (undocumented: whatever comes back, possibly nothing). */
export const subscriptionCancelSchema = objectOrEmpty(
  z.looseObject({ subscription_id: qfOptionalString, state: qfOptionalString }),
);
export type SubscriptionCancelResult = z.output<typeof subscriptionCancelSchema>;

/** `data` of `/subscription/v1/charge` (undocumented: the order fields when present). */
export const subscriptionChargeSchema = objectOrEmpty(
  z.looseObject({
    subscription_id: qfOptionalString,
    subscription_order_id: qfOptionalString,
    state: qfOptionalString,
    respcd: qfOptionalString,
    syssn: qfOptionalString,
    txamt: qfOptionalInt,
    txcurrcd: qfOptionalString,
    txdtm: qfOptionalString,
  }),
);
export type SubscriptionChargeResult = z.output<typeof subscriptionChargeSchema>;

// ---------------------------------------------------------------------------------------------
// Subscription orders

const ORDER_ID = /^sub_ord_(.+)_(\d{4,})$/;

/**
 * The billing sequence number inside a subscription order id.
 * @example orderSequenceFromOrderId('sub_ord_a360f06e4c3a_0003') // 3
 * @returns `undefined` when the id does not end in `_<digits>`
 */
export function orderSequenceFromOrderId(orderId: string): number | undefined {
  const m = ORDER_ID.exec(orderId.trim());
  return m ? Number(m[2]) : undefined;
}

/**
 * The subscription an order belongs to.
 * @example subscriptionIdFromOrderId('sub_ord_a360f06e4c3a_0003') // 'sub_a360f06e4c3a'
 * @returns `undefined` when the id does not have the documented form
 */
export function subscriptionIdFromOrderId(orderId: string): string | undefined {
  const m = ORDER_ID.exec(orderId.trim());
  return m ? `sub_${m[1]}` : undefined;
}

/**
 * A row of `/subscription/billing_order/v1/list`. `sequence_no` falls back to the number at
 * the end of `subscription_order_id` when QFPay leaves it out. The extra fields are what the
 * engine's emulator adds; QFPay may or may not send them.
 */
export const billingOrderSchema = z.preprocess(
  (v) => {
    if (typeof v !== 'object' || v === null) return v;
    const row = v as Record<string, unknown>;
    if (numberish(row.sequence_no) !== undefined || typeof row.subscription_order_id !== 'string') return v;
    return { ...row, sequence_no: orderSequenceFromOrderId(row.subscription_order_id) };
  },
  z.looseObject({
    subscription_order_id: qfString,
    subscription_id: qfString,
    /** `auto` (QFPay's schedule) or `manual` (`/subscription/v1/charge`). */
    trigger_by: qfOptionalString,
    sequence_no: qfInt,
    status: qfOptionalString,
    respcd: qfOptionalString,
    txamt: qfOptionalInt,
    txcurrcd: qfOptionalString,
    syssn: qfOptionalString,
    txdtm: qfOptionalString,
    charged_at: qfOptionalString,
    /** Attempts made on the order (the emulator reports it; QFPay's documents are silent). */
    attempts: qfOptionalInt,
  }),
);
export type BillingOrder = z.output<typeof billingOrderSchema>;

export const billingOrderListSchema = listOf(billingOrderSchema);

// ---------------------------------------------------------------------------------------------
// Times

/**
 * A QFPay time string as epoch ms.
 * @param text naive `YYYY-MM-DD HH:mm:ss` (read in `offset`) or ISO-8601 with a zone
 * @param offset zone of naive times
 * @default offset {@link DEFAULT_QFPAY_TIME_OFFSET}
 * @returns `undefined` for an absent or unreadable time
 */
export function qfpayTimeToMs(
  text: string | null | undefined,
  offset: string = DEFAULT_QFPAY_TIME_OFFSET,
): number | undefined {
  if (text === null || text === undefined || text.trim() === '') return undefined;
  return parseQfpayTime(text, offset);
}

/** A subscription's times as epoch ms (`undefined` where absent or unreadable). */
export interface SubscriptionTimesMs {
  nextBillingTime: number | undefined;
  lastBillingTime: number | undefined;
  startTime: number | undefined;
}

/** Reads the times of a subscription query row as epoch ms. */
export function subscriptionTimesMs(
  subscription: Pick<Subscription, 'next_billing_time' | 'last_billing_time' | 'start_time'>,
  offset: string = DEFAULT_QFPAY_TIME_OFFSET,
): SubscriptionTimesMs {
  return {
    nextBillingTime: qfpayTimeToMs(subscription.next_billing_time, offset),
    lastBillingTime: qfpayTimeToMs(subscription.last_billing_time, offset),
    startTime: qfpayTimeToMs(subscription.start_time, offset),
  };
}

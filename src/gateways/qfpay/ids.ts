/**
 * QFPay's ids: a documented prefix and a conservative character set. Being strict is what makes
 * it safe to put an id into a workflow id, a visibility query or a merchant event's header; the
 * API's schemas and QFPay's webhook hold ids to these same rules.
 */
import { z } from 'zod';

/** The prefix of each of QFPay's documented ids. */
export const QFPAY_ID_PREFIXES = {
  subscription: 'sub_',
  customer: 'cust_',
  product: 'prod_',
  token: 'tk_',
  order: 'sub_ord_',
} as const;

/** A QFPay id with `prefix`: the prefix, then 1-128 letters, digits, `_` or `-`. */
export function qfpayIdSchema(prefix: string) {
  return z.string().regex(new RegExp(`^${prefix}[A-Za-z0-9_-]{1,128}$`), `must look like ${prefix}…`);
}

/** An id QFPay gives without a documented shape: 1-128 visible ASCII characters (no spaces, no controls). */
export const opaqueQfpayIdSchema = z
  .string()
  .regex(/^[\x21-\x7E]{1,128}$/, 'must be 1-128 visible ASCII characters');

/**
 * The ids of a notification: they become workflow ids, signal payloads and merchant-event
 * headers, so a control character or a 5,000-character id is refused at the door (400).
 */
export const notificationIdsSchema = z.looseObject({
  subscription_id: qfpayIdSchema(QFPAY_ID_PREFIXES.subscription).optional(),
  subscription_order_id: qfpayIdSchema(QFPAY_ID_PREFIXES.order).optional(),
  tokenid: opaqueQfpayIdSchema.optional(),
  customer_id: opaqueQfpayIdSchema.optional(),
});

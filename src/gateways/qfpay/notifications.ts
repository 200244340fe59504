/**
 * The three notifications QFPay POSTs to the merchant: `payment_token`, `subscription` (a state
 * change) and `subscription_payment` (a billing result). Parsing is strict about JSON (the seed's
 * own sample has a trailing comma and is rejected, so QFPay retries it) and tolerant about
 * content: numbers may arrive as strings and unknown fields pass through.
 *
 * Verify the `X-QF-SIGN` header on the raw bytes with `verifyNotificationSignature` (signing.ts)
 * before parsing. This module is pure (no Node built-ins, no I/O) so workflow code may import it.
 */
import { z } from 'zod';
import { DEFAULT_QFPAY_TIME_OFFSET } from './time';
import { qfOptionalInt, qfOptionalString, qfString, qfpayTimeToMs } from './schemas';

export { orderSequenceFromOrderId, subscriptionIdFromOrderId } from './schemas';

/** A payment token was created for a card (or matched / conflicted with an existing one). */
export const paymentTokenNotificationSchema = z.looseObject({
  notify_type: z.literal('payment_token'),
  /** QFPay's spelling: `tokenid`, not `token_id`. */
  tokenid: qfString,
  /** `NEW`, `MATCH` (the card already had this token) or `CONFLICT` (card details differ). */
  event: qfString,
  /** `0000` on success. */
  respcd: qfString,
  respmsg: qfOptionalString,
  /** QFPay store id. */
  userid: qfOptionalString,
  token_expiry_date: qfOptionalString,
  /** Masked by QFPay (`5200****1096`). */
  cardcd: qfOptionalString,
  card_scheme: qfOptionalString,
  /** Naive `YYYY-MM-DD HH:mm:ss` in QFPay's region time. */
  sysdtm: qfOptionalString,
  customer_id: qfOptionalString,
  token_reason: qfOptionalString,
  token_reference: qfOptionalString,
});
export type PaymentTokenNotification = z.output<typeof paymentTokenNotificationSchema>;

/** A subscription changed state. */
export const subscriptionNotificationSchema = z.looseObject({
  notify_type: z.literal('subscription'),
  subscription_id: qfString,
  /** e.g. `ACTIVE`, `PAST_DUE`, `COMPLETED` (see design/qfpay-lifecycle.md). */
  state: qfString,
  /** When the state changed; orders state changes that arrive out of order. */
  sysdtm: qfString,
});
export type SubscriptionNotification = z.output<typeof subscriptionNotificationSchema>;

/** The result of charging one subscription order. */
export const subscriptionPaymentNotificationSchema = z.looseObject({
  notify_type: z.literal('subscription_payment'),
  subscription_id: qfString,
  /** `sub_ord_<id part of subscription_id>_<4-digit sequence>`. */
  subscription_order_id: qfString,
  /** `0000` = paid; otherwise see `classifyRespcd` (errors.ts). */
  respcd: qfString,
  respmsg: qfOptionalString,
  /** e.g. `AUTHORISED`; not in the field list but in QFPay's sample. */
  reason: qfOptionalString,
  syssn: qfOptionalString,
  txdtm: qfOptionalString,
  /** Minor units; QFPay's sample sends it as a string. */
  txamt: qfOptionalInt,
  txcurrcd: qfOptionalString,
  customer_id: qfOptionalString,
  /** Comma-separated product ids. */
  product_id: qfOptionalString,
  cardcd: qfOptionalString,
  card_scheme: qfOptionalString,
  /** Which billing cycle this was; QFPay's sample sends it as a string. */
  current_iteration: qfOptionalInt,
});
export type SubscriptionPaymentNotification = z.output<typeof subscriptionPaymentNotificationSchema>;

/** Any QFPay notification, discriminated by `notify_type`. */
export const notificationSchema = z.discriminatedUnion('notify_type', [
  paymentTokenNotificationSchema,
  subscriptionNotificationSchema,
  subscriptionPaymentNotificationSchema,
]);
export type QfpayNotification = z.output<typeof notificationSchema>;
export type QfpayNotifyType = QfpayNotification['notify_type'];

/** Why a notification body was refused. */
export type NotificationErrorReason = 'malformed_json' | 'invalid_notification';

/**
 * A notification body that is not valid JSON or not a notification QFPay documents. The
 * receiver should answer 400 (QFPay retries). `issues` lists each problem as `path: message`;
 * `cause` is the `SyntaxError` or `ZodError`.
 */
export class QfpayNotificationError extends Error {
  readonly type = 'QfpayNotificationError' as const;
  readonly reason: NotificationErrorReason;
  readonly issues: readonly string[];

  constructor(reason: NotificationErrorReason, message: string, issues: readonly string[], cause: unknown) {
    super(message, { cause });
    this.name = 'QfpayNotificationError';
    this.reason = reason;
    this.issues = issues;
  }
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`,
  );
}

/**
 * Validates a parsed notification without throwing.
 * @returns zod's result: the typed notification, or a `ZodError` naming every bad field
 */
export function safeParseNotification(value: unknown): z.ZodSafeParseResult<QfpayNotification> {
  return notificationSchema.safeParse(value);
}

/**
 * Validates a parsed notification.
 * @param value the JSON value of the body
 * @returns the typed notification (narrow on `notify_type`)
 * @throws QfpayNotificationError (`invalid_notification`, cause: the `ZodError`) listing every
 *   missing or malformed field, or an unknown `notify_type`
 */
export function parseNotification(value: unknown): QfpayNotification {
  const result = notificationSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = describeIssues(result.error);
  throw new QfpayNotificationError(
    'invalid_notification',
    `invalid QFPay notification: ${issues.join('; ')}`,
    issues,
    result.error,
  );
}

/**
 * Parses a notification's raw body: strict UTF-8, strict JSON, then {@link parseNotification}.
 * Lenient JSON (such as the trailing comma in QFPay's documented sample) is refused rather than
 * repaired: the signature covers the exact bytes, and a 400 makes QFPay send it again.
 * @param raw the request body exactly as received
 * @throws QfpayNotificationError `malformed_json` (cause: the `SyntaxError` or decoding error) or
 *   `invalid_notification`
 */
export function parseNotificationBody(raw: Uint8Array | string): QfpayNotification {
  let json: unknown;
  try {
    const text = typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw);
    json = JSON.parse(text) as unknown;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new QfpayNotificationError(
      'malformed_json',
      `QFPay notification body is not valid JSON: ${detail}`,
      [`(body): ${detail}`],
      err,
    );
  }
  return parseNotification(json);
}

/**
 * When the notified event happened, as epoch ms: `txdtm` for a payment result (falling back to
 * `sysdtm`), `sysdtm` otherwise. Used to keep an older fact from overriding a newer one.
 * @param offset zone of QFPay's naive times
 * @default offset {@link DEFAULT_QFPAY_TIME_OFFSET}
 * @returns `undefined` when the notification carries no readable time
 */
export function notificationTimeMs(
  notification: QfpayNotification,
  offset: string = DEFAULT_QFPAY_TIME_OFFSET,
): number | undefined {
  if (notification.notify_type === 'subscription_payment') {
    return qfpayTimeToMs(notification.txdtm, offset) ?? qfpayTimeToMs(asString(notification.sysdtm), offset);
  }
  return qfpayTimeToMs(notification.sysdtm, offset);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

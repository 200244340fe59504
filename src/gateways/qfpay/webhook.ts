/**
 * QFPay's notifications as the engine reads them (`POST /webhooks/qfpay`): the signature checked
 * on the raw bytes (`X-QF-SIGN`), the body parsed strictly, its ids held to QFPay's rules, and
 * each notification read into a fact (`subscription`, `subscription_payment`) or a customer's
 * payment token (`payment_token`, masked card only). QFPay wants `SUCCESS` once it is recorded.
 */
import {
  QfpayNotificationError,
  notificationTimeMs,
  parseNotificationBody,
  type PaymentTokenNotification,
  type QfpayNotification,
} from './notifications';
import { verifyNotificationSignature } from './signing';
import { factFromNotification } from './facts';
import { notificationIdsSchema } from './ids';
import type { QfpaySettings } from './settings';
import type { PaymentTokenRecord } from '../../domain/payment-tokens';
import { WebhookRejection, type GatewayWebhook, type WebhookHeaders, type WebhookIssue } from '../port';

/** The body QFPay expects from a receiver that took the notification. */
export const WEBHOOK_ACK = 'SUCCESS';

/** Where token notifications without a `customer_id` are kept. */
export const UNASSIGNED_CUSTOMER = '_unassigned';

/**
 * Masks a card number down to its first 6 and last 4 digits. QFPay already sends masked numbers
 * (`5200****1096`); this makes sure a full number can never reach workflow history.
 */
export function maskCardNumber(card: string | undefined): string | undefined {
  if (card === undefined || card.trim() === '') return undefined;
  const digits = (card.match(/\d/g) ?? []).join('');
  const compact = card.replace(/[\s-]/g, '');
  // Already masked by QFPay (at most 6 + 4 digits visible): keep QFPay's form.
  if (!/^\d+$/.test(compact) && digits.length <= 10) return card.trim();
  if (digits.length <= 4) return '*'.repeat(digits.length);
  if (digits.length < 12) return `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
  return `${digits.slice(0, 6)}${'*'.repeat(digits.length - 10)}${digits.slice(-4)}`;
}

/** The token record kept for the customer: masked card data only. */
export function paymentTokenRecord(
  notification: PaymentTokenNotification,
  receivedAt: number,
  timeOffset: string,
): PaymentTokenRecord {
  const cardMasked = maskCardNumber(notification.cardcd);
  return {
    tokenId: notification.tokenid,
    customerId: notification.customer_id ?? UNASSIGNED_CUSTOMER,
    event: notification.event,
    ...(cardMasked === undefined ? {} : { cardMasked }),
    ...(notification.card_scheme === undefined ? {} : { cardScheme: notification.card_scheme }),
    ...(notification.token_expiry_date === undefined ? {} : { expiry: notification.token_expiry_date }),
    receivedAt,
    at: notificationTimeMs(notification, timeOffset) ?? receivedAt,
  };
}

/** `path: message` issues of a QFPay parse as the fields they name. */
function issuesOf(err: QfpayNotificationError): WebhookIssue[] {
  return err.issues.map((issue) => {
    const at = issue.indexOf(': ');
    return at > 0
      ? { path: issue.slice(0, at), message: issue.slice(at + 2) }
      : { path: '(body)', message: issue };
  });
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses the signed bytes into a notification with ids QFPay's rules allow. */
function readNotification(raw: Buffer): QfpayNotification {
  let notification: QfpayNotification;
  try {
    notification = parseNotificationBody(raw);
  } catch (err) {
    if (!(err instanceof QfpayNotificationError)) throw err;
    throw new WebhookRejection(400, err.message, undefined, { details: issuesOf(err) });
  }
  const ids = notificationIdsSchema.safeParse(notification);
  if (!ids.success)
    throw new WebhookRejection(400, 'invalid notification', undefined, {
      details: ids.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
    });
  return notification;
}

/** QFPay's webhook, with its settings (the app key, whether to verify, its time zone). */
export function qfpayWebhook(
  settings: Pick<QfpaySettings, 'QFPAY_APP_KEY' | 'QFPAY_VERIFY_NOTIFICATIONS' | 'QFPAY_TIME_OFFSET'>,
): GatewayWebhook {
  return {
    ack: { status: 200, contentType: 'text/plain', body: WEBHOOK_ACK },
    read(raw, headers, receivedAt) {
      if (settings.QFPAY_VERIFY_NOTIFICATIONS) {
        const signature = header(headers, 'x-qf-sign');
        if (!verifyNotificationSignature(raw, settings.QFPAY_APP_KEY, signature))
          throw new WebhookRejection(
            401,
            signature === undefined ? 'missing X-QF-SIGN header' : 'X-QF-SIGN does not match the body',
          );
      }
      const notification = readNotification(raw);
      const type = notification.notify_type;
      if (notification.notify_type === 'payment_token') {
        if (notification.respcd.trim() !== '0000')
          return { kind: 'ignored', reason: 'no usable token was made', type };
        return {
          kind: 'payment_token',
          token: paymentTokenRecord(notification, receivedAt, settings.QFPAY_TIME_OFFSET),
          type,
        };
      }
      const built = factFromNotification(notification, receivedAt, settings.QFPAY_TIME_OFFSET);
      if (!built.ok)
        throw new WebhookRejection(400, `cannot use this notification: ${built.reason}`, undefined, {
          details: [
            {
              path: notification.notify_type === 'subscription' ? 'state' : 'subscription_order_id',
              message: built.reason,
            },
          ],
          type,
        });
      return { kind: 'facts', facts: [built.fact], type };
    },
  };
}

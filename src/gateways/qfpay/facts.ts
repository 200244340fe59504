/**
 * Normalises what QFPay says into lifecycle facts: a notification (webhook) into a `state` or
 * `payment` fact. Pure, so the webhook receiver and tests share it; the subscription workflow
 * only ever sees facts.
 */
import {
  notificationTimeMs,
  orderSequenceFromOrderId,
  type SubscriptionNotification,
  type SubscriptionPaymentNotification,
} from './notifications';
import { isSubscriptionState, type Fact, type SubscriptionState } from '../../domain/lifecycle/lifecycle';

/** Parses a QFPay state name (case-insensitive), or undefined for a state the engine does not know. */
export function toSubscriptionState(value: string | undefined): SubscriptionState | undefined {
  if (!value) return undefined;
  const upper = value.trim().toUpperCase().replace(/\s+/g, '_');
  const aliases: Record<string, SubscriptionState> = { CANCELED: 'CANCELLED', EXPIRED: 'INCOMPLETE_EXPIRED' };
  const state = aliases[upper] ?? upper;
  return isSubscriptionState(state) ? state : undefined;
}

export type FactFromNotification = { ok: true; fact: Fact } | { ok: false; reason: string };

/**
 * Turns a subscription or payment notification into a fact.
 * @param receivedAt when the engine received it, used only when QFPay's own time is missing
 * @param offset zone of QFPay's naive times
 */
export function factFromNotification(
  notification: SubscriptionNotification | SubscriptionPaymentNotification,
  receivedAt: number,
  offset?: string,
): FactFromNotification {
  const at = notificationTimeMs(notification, offset) ?? receivedAt;
  if (notification.notify_type === 'subscription') {
    const state = toSubscriptionState(notification.state);
    if (!state) return { ok: false, reason: `unknown subscription state "${notification.state}"` };
    return {
      ok: true,
      fact: {
        kind: 'state',
        subscriptionId: notification.subscription_id,
        state,
        at,
        source: 'notification',
      },
    };
  }
  const sequenceNo =
    notification.current_iteration ?? orderSequenceFromOrderId(notification.subscription_order_id);
  if (sequenceNo === undefined) {
    return { ok: false, reason: `cannot tell the cycle of order "${notification.subscription_order_id}"` };
  }
  return {
    ok: true,
    fact: {
      kind: 'payment',
      subscriptionId: notification.subscription_id,
      orderId: notification.subscription_order_id,
      sequenceNo,
      succeeded: notification.respcd === '0000',
      respcd: notification.respcd,
      respmsg: notification.respmsg,
      amount: notification.txamt,
      currency: notification.txcurrcd,
      syssn: notification.syssn,
      at,
      source: 'notification',
    },
  };
}

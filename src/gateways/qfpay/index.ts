/**
 * The QFPay API client and everything it is built from. Workflow code must not import this
 * barrel (it pulls in the HTTP client); it imports `qfpay/errors`, `qfpay/schemas` or
 * `qfpay/notifications` directly, which are pure.
 */
export * from './signing';
export * from './time';
export * from './errors';
export * from './schemas';
export {
  QfpayNotificationError,
  notificationSchema,
  notificationTimeMs,
  parseNotification,
  parseNotificationBody,
  paymentTokenNotificationSchema,
  safeParseNotification,
  subscriptionNotificationSchema,
  subscriptionPaymentNotificationSchema,
  type NotificationErrorReason,
  type PaymentTokenNotification,
  type QfpayNotification,
  type QfpayNotifyType,
  type SubscriptionNotification,
  type SubscriptionPaymentNotification,
} from './notifications';
export * from './client';

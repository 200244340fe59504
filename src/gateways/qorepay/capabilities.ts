import type { GatewayCapabilities } from '../port';

/** What QorePay can do for the engine (plain data: it travels in the workflow's input). */
export const QOREPAY_CAPABILITIES: GatewayCapabilities = Object.freeze({
  // No endpoint charges a purchase on the merchant's demand: recovery is QorePay's own.
  manualCharge: false,
  // PATCH /billing_templates/{id}/clients/{client_id}/ {"status":"subscription_paused"|"active"}.
  pause: true,
  // The recurring method is the client's, saved at QorePay when they first paid.
  changeToken: false,
  // A billing template has no cycle count at all.
  changeCycles: false,
  // PUT on the template would reprice every subscriber of it; not offered per subscription.
  changeProducts: false,
  // PATCH of the subscriber's billing details: its own `invoice_override`, one line at the price.
  changePrice: true,
  cancel: true,
  recovery:
    'A failed charge leaves the purchase payable until its due date (7 days by default): QorePay retries ' +
    'the saved method once a day and emails the invoice; unpaid by the due date, the purchase is overdue ' +
    '(UNPAID) and the next cycle bills as usual.',
  // The purchase's due period as the engine creates it by default (QOREPAY_DUE_DAYS): the engine
  // escalates on QorePay's word (the purchase overdue), and asks QorePay once this has passed.
  recoveryEndsAfterMs: 7 * 86_400_000,
});

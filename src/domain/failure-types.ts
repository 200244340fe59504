/**
 * Every failure type the engine's workflows and activities give (`ApplicationFailure.type`), in one
 * table with the HTTP answer the API gives when a merchant's request meets it (an update that
 * failed). QFPay's refusals keep their own types (`QfpayError:<reason>`), answered by QFPay's
 * error table in `src/api/errors.ts`.
 */

/** The API's answer to a failure type: its status, its error code, and what it means. */
export interface FailureAnswer {
  status: 409 | 503;
  code: 'conflict' | 'gateway_unavailable';
  meaning: string;
}

const conflict = (meaning: string): FailureAnswer => ({ status: 409, code: 'conflict', meaning });
const unavailable = (meaning: string): FailureAnswer => ({
  status: 503,
  code: 'gateway_unavailable',
  meaning,
});

export const FAILURE_TYPES = {
  GatewayUnavailable: unavailable('the gateway gave no answer, or was busy, on every try: try again'),
  GatewayNotConfigured: unavailable("the worker has not the gateway's variables"),
  GatewayRefused: conflict('the gateway refused the request as made'),
  GatewayCapability: conflict('the gateway cannot do this (a capability it lacks)'),
  UnknownGateway: conflict('no gateway has that name'),
  SubscriptionNotFound: conflict('the gateway does not know the subscription'),
  SyncFailed: conflict('the sync the merchant asked for failed'),
  ChargeFailed: conflict('the charge the merchant asked for was refused'),
  ChargeNotAllowed: conflict('the charge was not sent (its window had closed)'),
  CancelFailed: conflict('the cancel failed'),
  ChangeFailed: conflict('the change failed'),
  MerchantEndpointRejected: conflict("the merchant's endpoint refused the event for good (a delivery)"),
  MerchantEndpointUnavailable: unavailable("the merchant's endpoint did not take the event (a delivery)"),
} as const satisfies Record<string, FailureAnswer>;

/** One failure type of {@link FAILURE_TYPES}. */
export type FailureType = keyof typeof FAILURE_TYPES;

/**
 * The answer to a failure's type: its entry in {@link FAILURE_TYPES}, else a conflict (a workflow's
 * own refusal, such as an update validator's, carries no type).
 */
export function failureAnswer(type: string | undefined | null): FailureAnswer {
  return type != null && Object.hasOwn(FAILURE_TYPES, type)
    ? FAILURE_TYPES[type as FailureType]
    : conflict('the subscription refused the request');
}

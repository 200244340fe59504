/**
 * The emulator's errors. A QFPay endpoint answers a {@link QfpayApiError} with QFPay's envelope
 * (HTTP 200, the `respcd`); an emulator-only endpoint answers a {@link EmulatorRequestError} with
 * its HTTP status and `{ error: { type, message } }`.
 */

/** The `respcd` values the emulator answers with. */
export const RESPCD = {
  ok: '0000',
  parameterError: '1104',
  signatureError: '1108',
  notFound: '1136',
  processing: '1145',
  orderNotFound: '1268',
} as const;

/** Stable kinds of {@link QfpayApiError}, one per `respcd`. */
export type QfpayApiErrorType = 'parameter_error' | 'signature_error' | 'not_found' | 'order_not_found';

const RESPCD_BY_TYPE: Readonly<Record<QfpayApiErrorType, string>> = {
  parameter_error: RESPCD.parameterError,
  signature_error: RESPCD.signatureError,
  not_found: RESPCD.notFound,
  order_not_found: RESPCD.orderNotFound,
};

/** A business error of a QFPay endpoint: answered HTTP 200 with this `respcd`. */
export class QfpayApiError extends Error {
  readonly respcd: string;

  constructor(
    readonly type: QfpayApiErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'QfpayApiError';
    this.respcd = RESPCD_BY_TYPE[type];
  }
}

/** `1104`: a mandatory field is missing, a value is invalid, or the operation is not allowed now. */
export function parameterError(message: string): QfpayApiError {
  return new QfpayApiError('parameter_error', message);
}

/** `1136`: the customer, product, token or subscription does not exist. */
export function notFound(message: string): QfpayApiError {
  return new QfpayApiError('not_found', message);
}

/** An error of an emulator-only endpoint. */
export class EmulatorRequestError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EmulatorRequestError';
  }
}

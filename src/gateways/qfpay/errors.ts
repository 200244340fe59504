/**
 * Typed failures of QFPay API calls, and the one table that says what each `respcd` means for
 * the caller: try again, confirm later by query, or give up.
 *
 * This module is pure (no Node built-ins, no I/O) so workflow code may import it.
 */

/**
 * What the caller should do about a failure.
 * - `transient`: the request did not take effect or can safely be sent again later (back off).
 * - `pending`: the outcome is not known yet; confirm it later by query and never blindly repeat
 *   a payment.
 * - `permanent`: sending the same request again will fail the same way.
 */
export type QfpayErrorKind = 'transient' | 'pending' | 'permanent';

/** A short machine word for why a call failed; stable across releases. */
export type QfpayErrorReason =
  // transient
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'network'
  | 'maintenance'
  | 'try_later'
  | 'bank_busy'
  // pending
  | 'pending'
  // permanent
  | 'signature'
  | 'validation'
  | 'not_found'
  | 'duplicate'
  | 'declined'
  | 'expired'
  | 'already_paid'
  | 'order_state'
  | 'refund_rejected'
  | 'merchant_config'
  | 'forbidden'
  | 'http_error'
  | 'bad_response'
  | 'unknown';

/** How one `respcd` (or HTTP status) is classified. */
export interface QfpayFailureClass {
  readonly kind: QfpayErrorKind;
  readonly reason: QfpayErrorReason;
  /** QFPay's published wording, shortened. */
  readonly description: string;
}

/** The `respcd` of a successful call. */
export const RESPCD_SUCCESS = '0000';

const transient = (reason: QfpayErrorReason, description: string): QfpayFailureClass => ({
  kind: 'transient',
  reason,
  description,
});
const pending = (description: string): QfpayFailureClass => ({
  kind: 'pending',
  reason: 'pending',
  description,
});
const permanent = (reason: QfpayErrorReason, description: string): QfpayFailureClass => ({
  kind: 'permanent',
  reason,
  description,
});

/**
 * Every `respcd` QFPay publishes (the "Transaction Status Codes" page of its developer docs),
 * classified for retrying. QFPay gives no retryable/permanent split itself; this one follows the
 * docs' own integration advice:
 *
 * | respcd | kind | reason | why |
 * |---|---|---|---|
 * | 1100 | transient | maintenance | system under maintenance |
 * | 1205 | transient | try_later | "transaction failed, please try again later" |
 * | 1252, 1254 | transient | server_error | QFPay system error |
 * | 1295, 1296 | transient | network | network congested, waiting for the bank's answer |
 * | 1297 | transient | bank_busy | banking system busy |
 * | 1143, 1145, 1298 | pending | pending | not paid yet / processing / slow network: confirm by query, do not repeat the payment |
 * | 1108 | permanent | signature | signature error (wrong key or sign type) |
 * | 1103, 1104 | permanent | validation | request format or parameter error |
 * | 1136, 1268 | permanent | not_found | the transaction or order does not exist |
 * | 1102, 2011 | permanent | duplicate | duplicate request / serial number |
 * | 1147, 1201, 1202, 1203, 1204, 1212, 1294, 2005 | permanent | declined | the payer's card, wallet or bank refused (1294: risk control, never retry automatically) |
 * | 1181 | permanent | expired | order expired |
 * | 1260 | permanent | already_paid | order already paid |
 * | 1101, 1125, 1142, 1261–1264, 1266, 1267 | permanent | order_state | the order is in a state that does not allow this |
 * | 1150, 1155, 1265, 1269–1272 | permanent | refund_rejected | refund not allowed |
 * | 1105–1107, 1241–1243, 1251 | permanent | merchant_config | device, store or merchant set-up |
 * | 1250 | permanent | forbidden | transaction forbidden by QFPay |
 * | anything else | permanent | unknown | not in the published list |
 *
 * HTTP failures are classified by {@link classifyHttpStatus}: 429 is transient `rate_limited`,
 * 5xx transient `server_error`, any other non-2xx permanent `http_error`. A request timeout is
 * transient `timeout`, a connection failure transient `network`, a body that is not JSON or does
 * not match its schema permanent `bad_response`.
 */
export const RESPCD_TABLE: Readonly<Record<string, QfpayFailureClass>> = Object.freeze({
  '1100': transient('maintenance', 'system under maintenance'),
  '1205': transient('try_later', 'transaction failed, try again later'),
  '1252': transient('server_error', 'system error while making the order request'),
  '1254': transient('server_error', 'system error, being resolved'),
  '1295': transient('network', 'network congested, waiting for the response'),
  '1296': transient('network', 'network congested, try again later'),
  '1297': transient('bank_busy', 'banking system busy'),

  '1143': pending('order not paid yet, the payer may be entering the password'),
  '1145': pending('processing, please wait'),
  '1298': pending('network congested: do not repeat the payment, confirm the result later'),

  '1108': permanent('signature', 'signature error'),
  '1103': permanent('validation', 'request format error'),
  '1104': permanent('validation', 'request parameter error'),
  '1136': permanent('not_found', 'transaction does not exist or is not operational'),
  '1268': permanent('not_found', 'order does not exist'),
  '1102': permanent('duplicate', 'duplicate request'),
  '2011': permanent('duplicate', 'duplicate transaction serial number'),

  '1147': permanent('declined', 'WeChat Pay transaction error'),
  '1201': permanent('declined', 'insufficient balance'),
  '1202': permanent('declined', 'incorrect or expired payment code'),
  '1203': permanent('declined', 'payer account error'),
  '1204': permanent('declined', 'bank error'),
  '1212': permanent('declined', 'UnionPay overseas payment code required'),
  '1294': permanent('declined', 'transaction may be non-compliant, prohibited by the bank'),
  '2005': permanent('declined', 'incorrect or expired payment code'),

  '1181': permanent('expired', 'order expired'),
  '1260': permanent('already_paid', 'order already paid'),

  '1101': permanent('order_state', 'reversal error'),
  '1125': permanent('order_state', 'transaction already refunded'),
  '1142': permanent('order_state', 'order already closed'),
  '1261': permanent('order_state', 'order not paid'),
  '1262': permanent('order_state', 'order already refunded'),
  '1263': permanent('order_state', 'order already cancelled'),
  '1264': permanent('order_state', 'order already closed'),
  '1266': permanent('order_state', 'order amount wrong'),
  '1267': permanent('order_state', 'order information mismatch'),

  '1150': permanent('refund_rejected', 'T0 settlement does not support cancelling transactions'),
  '1155': permanent('refund_rejected', 'refund request denied'),
  '1265': permanent('refund_rejected', 'refunds not allowed at this time or for this transaction'),
  '1269': permanent('refund_rejected', "today's unsettled amount is insufficient"),
  '1270': permanent('refund_rejected', 'currency does not support partial refunds'),
  '1271': permanent('refund_rejected', 'transaction does not support partial refunds'),
  '1272': permanent('refund_rejected', 'refund amount exceeds the refundable amount'),

  '1105': permanent('merchant_config', 'device not activated'),
  '1106': permanent('merchant_config', 'invalid device'),
  '1107': permanent('merchant_config', 'device not allowed'),
  '1241': permanent('merchant_config', 'store does not exist or its status is incorrect'),
  '1242': permanent('merchant_config', 'store not configured correctly'),
  '1243': permanent('merchant_config', 'store disabled'),
  '1251': permanent('merchant_config', 'store configuration error'),

  '1250': permanent('forbidden', 'transaction forbidden'),
});

const UNKNOWN_RESPCD: QfpayFailureClass = permanent('unknown', 'return code not in the published list');

/**
 * Classifies a failed call's return code using {@link RESPCD_TABLE}.
 * @param respcd a `respcd` other than `0000` (surrounding spaces are ignored)
 * @returns the table row, or permanent `unknown` for a code QFPay does not publish
 * @throws RangeError for `0000`, which is success and has no failure class
 */
export function classifyRespcd(respcd: string): QfpayFailureClass {
  const code = respcd.trim();
  if (code === RESPCD_SUCCESS) throw new RangeError('respcd 0000 is success, not a failure');
  return RESPCD_TABLE[code] ?? UNKNOWN_RESPCD;
}

/**
 * Classifies a non-2xx HTTP status.
 * @returns transient `rate_limited` for 429, transient `server_error` for 5xx, permanent
 *   `http_error` otherwise; `undefined` for a 2xx status
 */
export function classifyHttpStatus(status: number): QfpayFailureClass | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 429) return transient('rate_limited', 'HTTP 429: rate limit exceeded');
  if (status >= 500 && status < 600) return transient('server_error', `HTTP ${status}: server error`);
  return permanent('http_error', `HTTP ${status}`);
}

/** Everything a {@link QfpayError} carries. */
export interface QfpayErrorInit {
  readonly kind: QfpayErrorKind;
  readonly reason: QfpayErrorReason;
  /** The API path that was called, e.g. `/subscription/v1/charge`. */
  readonly endpoint: string;
  readonly message: string;
  readonly respcd?: string;
  readonly respmsg?: string;
  readonly resperr?: string;
  readonly httpStatus?: number;
  /** From a 429's `Retry-After` header, when QFPay sends one. */
  readonly retryAfterMs?: number;
  /** The payment a refused charge made, when the envelope's `data` names it (its `syssn`, `txdtm`). */
  readonly payment?: { syssn?: string; txdtm?: string };
  readonly cause?: unknown;
}

/**
 * A failed QFPay call. `kind` says what to do about it (see {@link RESPCD_TABLE}); `cause` is
 * the original error (a `ZodError`, a `SyntaxError`, a fetch `TypeError`, ...), kept as is.
 * Messages never contain the app key or request parameters.
 */
export class QfpayError extends Error {
  /** Stable discriminator that survives serialisation (Temporal failure `type`, logs). */
  readonly type = 'QfpayError' as const;
  readonly kind: QfpayErrorKind;
  readonly reason: QfpayErrorReason;
  readonly endpoint: string;
  readonly respcd?: string;
  readonly respmsg?: string;
  readonly resperr?: string;
  readonly httpStatus?: number;
  readonly retryAfterMs?: number;
  /** The payment a declined charge made, when QFPay's answer names it: the same attempt its notification reports. */
  readonly payment?: { syssn?: string; txdtm?: string };

  constructor(init: QfpayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'QfpayError';
    this.kind = init.kind;
    this.reason = init.reason;
    this.endpoint = init.endpoint;
    if (init.respcd !== undefined) this.respcd = init.respcd;
    if (init.respmsg !== undefined) this.respmsg = init.respmsg;
    if (init.resperr !== undefined) this.resperr = init.resperr;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.payment !== undefined) this.payment = init.payment;
  }

  /** True when the same request may be sent again after a back-off (kind `transient`). */
  get retryable(): boolean {
    return this.kind === 'transient';
  }

  /**
   * Builds the error for a response whose `respcd` is not `0000`.
   * @param endpoint the API path called
   * @param envelope the parsed response envelope
   * @param httpStatus the HTTP status it came with
   */
  static fromRespcd(
    endpoint: string,
    envelope: { respcd: string; respmsg?: string | undefined; resperr?: string | undefined; data?: unknown },
    httpStatus?: number,
  ): QfpayError {
    const cls = classifyRespcd(envelope.respcd);
    const said = envelope.respmsg || envelope.resperr;
    const payment = paymentOf(envelope.data);
    return new QfpayError({
      ...cls,
      endpoint,
      respcd: envelope.respcd,
      ...(payment === undefined ? {} : { payment }),
      ...(envelope.respmsg === undefined ? {} : { respmsg: envelope.respmsg }),
      ...(envelope.resperr === undefined ? {} : { resperr: envelope.resperr }),
      ...(httpStatus === undefined ? {} : { httpStatus }),
      message: `QFPay ${endpoint} failed with respcd ${envelope.respcd} (${cls.kind} ${cls.reason}: ${cls.description})${
        said ? `: ${said}` : ''
      }`,
    });
  }

  /** Plain fields for structured logs and Temporal failure details (no stack, no cause). */
  toJSON(): Record<string, unknown> {
    return {
      type: this.type,
      kind: this.kind,
      reason: this.reason,
      endpoint: this.endpoint,
      message: this.message,
      respcd: this.respcd,
      respmsg: this.respmsg,
      resperr: this.resperr,
      httpStatus: this.httpStatus,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

/** The `syssn` and `txdtm` of a refused call's `data`, when it has them. */
function paymentOf(data: unknown): { syssn?: string; txdtm?: string } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { syssn, txdtm } = data as Record<string, unknown>;
  const payment = {
    ...(typeof syssn === 'string' && syssn !== '' ? { syssn } : {}),
    ...(typeof txdtm === 'string' && txdtm !== '' ? { txdtm } : {}),
  };
  return Object.keys(payment).length > 0 ? payment : undefined;
}

/**
 * Recognises a {@link QfpayError}, also one from another copy of this module (matched by `type`).
 */
export function isQfpayError(err: unknown): err is QfpayError {
  return (
    err instanceof QfpayError ||
    (typeof err === 'object' && err !== null && (err as { type?: unknown }).type === 'QfpayError')
  );
}

/**
 * Whether a failed call may simply be sent again after a back-off: only transient QFPay
 * errors. Pending outcomes must be confirmed by query instead, and anything that is not a
 * {@link QfpayError} is a programming error, not retryable.
 */
export function isRetryable(err: unknown): boolean {
  return isQfpayError(err) && err.kind === 'transient';
}

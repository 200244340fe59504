/**
 * The API's one error shape and the mapping from everything that can go wrong (bad input, QFPay,
 * Temporal) to it. Every non-2xx JSON answer is
 * `{ error: { code, message, details? }, request_id }`; bad input is never a 500, and a 500 never
 * carries a stack.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import {
  ServiceError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
  NamespaceNotFoundError,
} from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { failureAnswer } from '../domain/failure-types';
import { GatewayError } from '../gateways/port';
import { QfpayNotificationError } from '../gateways/qfpay/notifications';
import { isQfpayError, type QfpayErrorKind, type QfpayErrorReason } from '../gateways/qfpay/errors';
import { FORMER_FIELD_MESSAGES, type ErrorCode, type ErrorDetail, type ErrorResponse } from './schemas';

export type { ErrorCode, ErrorDetail, ErrorResponse } from './schemas';

/** Everything an {@link ApiError} carries. */
export interface ApiErrorInit {
  status: number;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
  cause?: unknown;
  /** Sent as `Retry-After` (seconds) with the answer. */
  retryAfterSeconds?: number;
}

/** How long a caller is asked to wait after Temporal could not take a request. */
export const TEMPORAL_RETRY_AFTER_SECONDS = 5;

/**
 * An answer the API gives on purpose: its HTTP status, stable `code` and a message safe to show
 * the caller. `cause` keeps what went wrong underneath (for logs only, never for the body).
 */
export class ApiError extends Error {
  readonly type = 'ApiError' as const;
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  static validation(message: string, details?: ErrorDetail[], cause?: unknown): ApiError {
    return new ApiError({ status: 400, code: 'validation_error', message, details, cause });
  }

  static notFound(message: string, cause?: unknown): ApiError {
    return new ApiError({ status: 404, code: 'not_found', message, cause });
  }

  static conflict(message: string, cause?: unknown): ApiError {
    return new ApiError({ status: 409, code: 'conflict', message, cause });
  }

  /** A gateway behind the port that the API has no variables for. */
  static gatewayNotConfigured(gateway: string): ApiError {
    return new ApiError({
      status: 503,
      code: 'gateway_unavailable',
      message: `gateway ${gateway} is not configured (see its README for the variables)`,
    });
  }

  static temporalUnavailable(message: string, cause?: unknown): ApiError {
    return new ApiError({
      status: 503,
      code: 'temporal_unavailable',
      message,
      cause,
      retryAfterSeconds: TEMPORAL_RETRY_AFTER_SECONDS,
    });
  }

  /** The JSON body for this error. */
  toBody(requestId: string): ErrorResponse {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details && this.details.length > 0 ? { details: this.details } : {}),
      },
      request_id: requestId,
    };
  }
}

/**
 * Field paths as the caller wrote them (`customer.email`, `dunning_policy.attempt_offsets.1`); an
 * unknown field is reported at its own path, and one the API took before under that name says what
 * it is now (`finalAction` → `final_action`, `page_size` → `limit`).
 */
export function zodDetails(error: ZodError, prefix: readonly (string | number)[] = []): ErrorDetail[] {
  const at = (path: readonly PropertyKey[]): string => {
    const parts = [...prefix, ...path.map((p) => (typeof p === 'symbol' ? p.toString() : p))];
    return parts.length > 0 ? parts.join('.') : '(root)';
  };
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: at([...issue.path, key]),
          message: FORMER_FIELD_MESSAGES.get(key) ?? 'unknown field',
        }))
      : [{ path: at(issue.path), message: issue.message }],
  );
}

/** A 400 naming every bad field of one input (`where`: body, query, path or a header). */
export function validationError(
  error: ZodError,
  where: string,
  prefix: readonly (string | number)[] = [],
): ApiError {
  return ApiError.validation(`invalid ${where}`, zodDetails(error, prefix), error);
}

// ---- QFPay ------------------------------------------------------------------------------------

/** The parts of a QFPay failure the API maps, from a `QfpayError` or its Temporal form. */
export interface QfpayFailureInfo {
  kind: QfpayErrorKind;
  reason: QfpayErrorReason;
  message: string;
  respcd?: string;
  respmsg?: string;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Finds a QFPay failure in an error or its cause chain: a `QfpayError` thrown by the client, or
 * the `ApplicationFailure` (type `QfpayError:<reason>`, details `[QfpayError.toJSON()]`) that the
 * activities turn it into and Temporal hands back inside a workflow or update failure.
 */
export function findQfpayFailure(err: unknown): QfpayFailureInfo | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 12 && current !== undefined && current !== null; depth += 1) {
    if (isQfpayError(current)) {
      return {
        kind: current.kind,
        reason: current.reason,
        message: current.message,
        ...(current.respcd === undefined ? {} : { respcd: current.respcd }),
        ...(current.respmsg === undefined ? {} : { respmsg: current.respmsg }),
      };
    }
    if (current instanceof ApplicationFailure && current.type?.startsWith('QfpayError:')) {
      const said = asRecord(current.details?.[0]) ?? {};
      const kind = str(said.kind) as QfpayErrorKind | undefined;
      const respcd = str(said.respcd);
      const respmsg = str(said.respmsg) ?? str(said.resperr);
      return {
        kind: kind ?? (current.nonRetryable ? 'permanent' : 'transient'),
        reason: (str(said.reason) ?? current.type.slice('QfpayError:'.length)) as QfpayErrorReason,
        message: current.message,
        ...(respcd === undefined ? {} : { respcd }),
        ...(respmsg === undefined ? {} : { respmsg }),
      };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Maps a QFPay failure: QFPay refusing the input → 400, an unknown object → 404, a state QFPay
 * will not act in → 409, QFPay busy or unsure → 503, our own set-up or an unreadable answer → 502.
 * QFPay's `respcd`, message and reason go into `details`.
 */
export function qfpayApiError(failure: QfpayFailureInfo, cause?: unknown): ApiError {
  const details: ErrorDetail[] = [{ path: 'qfpay.reason', message: failure.reason }];
  if (failure.respcd !== undefined) {
    details.unshift({
      path: 'qfpay.respcd',
      message: failure.respmsg ? `${failure.respcd}: ${failure.respmsg}` : failure.respcd,
    });
  }
  const said = failure.respmsg ? `: ${failure.respmsg}` : '';
  if (failure.kind === 'transient' || failure.kind === 'pending') {
    return new ApiError({
      status: 503,
      code: 'qfpay_error',
      message: `QFPay is unavailable or busy (${failure.reason}); try again later`,
      details,
      cause,
    });
  }
  switch (failure.reason) {
    case 'not_found':
      return new ApiError({
        status: 404,
        code: 'not_found',
        message: `QFPay: not found${said}`,
        details,
        cause,
      });
    case 'duplicate':
    case 'already_paid':
    case 'order_state':
    case 'refund_rejected':
      return new ApiError({
        status: 409,
        code: 'conflict',
        message: `QFPay refused (${failure.reason})${said}`,
        details,
        cause,
      });
    case 'signature':
    case 'merchant_config':
    case 'forbidden':
    case 'http_error':
    case 'bad_response':
      return new ApiError({
        status: 502,
        code: 'qfpay_error',
        message: `QFPay call failed (${failure.reason}); check the engine's QFPay configuration`,
        details,
        cause,
      });
    default:
      return new ApiError({
        status: 400,
        code: 'validation_error',
        message: `QFPay refused the request (${failure.reason})${said}`,
        details,
        cause,
      });
  }
}

// ---- Temporal ---------------------------------------------------------------------------------

/** gRPC status codes that mean "Temporal did not (or could not) answer", not "you asked wrong". */
const UNAVAILABLE_GRPC_CODES: ReadonlySet<number> = new Set([
  1, // CANCELLED (our deadline or abort)
  2, // UNKNOWN (e.g. a connection reset)
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  13, // INTERNAL
  14, // UNAVAILABLE
]);

const GRPC_FAILED_PRECONDITION = 9;

function grpcCode(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current; depth += 1) {
    if (isGrpcServiceError(current)) return current.code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether an error means Temporal is unreachable or did not answer in time: a gRPC error with
 * an availability code (directly or as the cause of the SDK's `ServiceError`), a `ServiceError`
 * without a gRPC cause (connection failures), or an update call that ran out of time.
 */
export function isTemporalUnavailable(err: unknown): boolean {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  if (err instanceof NamespaceNotFoundError) return true;
  const code = grpcCode(err);
  if (code !== undefined) return UNAVAILABLE_GRPC_CODES.has(code);
  if (err instanceof ServiceError) return true;
  // Connection.connect / lazy connections fail with plain errors before any gRPC status exists.
  const message = err instanceof Error ? err.message : '';
  return /failed to connect|connection (?:refused|closed)|ECONNREFUSED|ECONNRESET|ETIMEDOUT/i.test(message);
}

/** Whether the error says the workflow (or its execution) does not exist. */
export function isWorkflowNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcCode(err) === 5; // NOT_FOUND
}

/** The innermost failure of a workflow/update/activity failure chain, with its message. */
function applicationCause(err: unknown): ApplicationFailure | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 12 && current; depth += 1) {
    if (current instanceof ApplicationFailure) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The 503 for a failure whose type means a gateway could not be used, not that it refused (no
 * answer, busy, not configured: `FAILURE_TYPES`), as the routes answer up front for a gateway the
 * API has no variables for; else undefined.
 */
function gatewayUnavailable(app: ApplicationFailure | undefined, cause: unknown): ApiError | undefined {
  const answer = failureAnswer(app?.type);
  if (!app || answer.status !== 503) return undefined;
  return new ApiError({ status: answer.status, code: answer.code, message: app.message, cause });
}

/**
 * Turns a failed workflow update into an API error: QFPay's refusal is mapped like a direct
 * QFPay call; a gateway that could not be reached or is not configured is a 503; any other
 * application failure (an update validator that threw, or a handler that refused) is a 409
 * carrying the workflow's own message.
 */
export function updateApiError(err: WorkflowUpdateFailedError): ApiError {
  const qfpay = findQfpayFailure(err.cause);
  if (qfpay) return qfpayApiError(qfpay, err);
  const app = applicationCause(err.cause);
  const unavailable = gatewayUnavailable(app, err);
  if (unavailable) return unavailable;
  if (app) return ApiError.conflict(app.message, err);
  if (err.cause instanceof ActivityFailure) {
    return new ApiError({
      status: 502,
      code: 'qfpay_error',
      message: 'the update failed in an activity',
      cause: err,
    });
  }
  return ApiError.conflict(err.cause?.message ?? err.message, err);
}

/**
 * A gateway behind the port, called by a merchant's read: its 404 is the subscription's, its 409
 * a state the read cannot be made in; a retryable failure (5xx, timeout, network) is a 503; any
 * other refusal is the gateway's answer to a request the engine made, a 502.
 */
function gatewayApiError(err: GatewayError): ApiError {
  if (err.status === 404) return ApiError.notFound(err.message, err);
  if (err.status === 409) return ApiError.conflict(err.message, err);
  if (err.retryable)
    return new ApiError({ status: 503, code: 'gateway_unavailable', message: err.message, cause: err });
  return new ApiError({ status: 502, code: 'gateway_error', message: err.message, cause: err });
}

/**
 * Maps any error to the API error that answers it. Unexpected errors become a 500 `internal`
 * whose body says nothing about the failure (the cause goes to the log).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) return validationError(err, 'input');
  const parserError = bodyParserError(err);
  if (parserError) return parserError;
  if (err instanceof URIError) {
    // Express could not decode a path parameter (malformed percent-encoding).
    return ApiError.validation(
      'malformed percent-encoding in the path',
      [{ path: '(path)', message: 'not valid percent-encoded UTF-8' }],
      err,
    );
  }
  if (err instanceof QfpayNotificationError) {
    return ApiError.validation(
      err.message,
      err.issues.map((issue) => {
        const at = issue.indexOf(': ');
        return at > 0
          ? { path: issue.slice(0, at), message: issue.slice(at + 2) }
          : { path: '(body)', message: issue };
      }),
      err,
    );
  }
  const qfpay = isQfpayError(err) ? findQfpayFailure(err) : undefined;
  if (qfpay) return qfpayApiError(qfpay, err);
  if (err instanceof GatewayError) return gatewayApiError(err);
  if (err instanceof WorkflowUpdateFailedError) return updateApiError(err);
  if (err instanceof WorkflowFailedError) {
    const failure = findQfpayFailure(err.cause);
    if (failure) return qfpayApiError(failure, err);
    const app = applicationCause(err.cause);
    return gatewayUnavailable(app, err) ?? ApiError.conflict(app?.message ?? 'the workflow failed', err);
  }
  if (isWorkflowNotFound(err)) return ApiError.notFound('not found', err);
  if (grpcCode(err) === GRPC_FAILED_PRECONDITION) {
    // E.g. an update while no worker polls the task queue: nothing is wrong with the request.
    return ApiError.temporalUnavailable(
      'Temporal cannot run this now (no worker is taking the subscription’s tasks); try again',
      err,
    );
  }
  if (isTemporalUnavailable(err)) {
    return ApiError.temporalUnavailable('Temporal is unavailable or did not answer in time; try again', err);
  }
  return new ApiError({ status: 500, code: 'internal', message: 'internal error', cause: err });
}

/**
 * body-parser's errors (http-errors with `type`, a 4xx `status` and `expose: true`): a malformed
 * or oversized body is the caller's fault, never a 500.
 */
function bodyParserError(err: unknown): ApiError | undefined {
  const record = asRecord(err);
  const type = record ? str(record.type) : undefined;
  const status = record && typeof record.status === 'number' ? record.status : undefined;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  if (type === undefined) {
    // A body that could not be read, e.g. a Content-Encoding whose bytes do not inflate: the
    // stream error wrapped as a 400, without a type.
    if (record?.expose !== true || err instanceof URIError) return undefined;
    return ApiError.validation(
      'unreadable request body',
      [{ path: '(body)', message: 'the body does not match its Content-Encoding' }],
      err,
    );
  }
  switch (type) {
    case 'entity.parse.failed':
      return ApiError.validation(
        'malformed JSON body',
        [{ path: '(body)', message: err instanceof Error ? err.message : 'not valid JSON' }],
        err,
      );
    case 'entity.too.large':
      return new ApiError({
        status: 413,
        code: 'validation_error',
        message: 'request body too large',
        cause: err,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError({
        status: 415,
        code: 'validation_error',
        message: 'unsupported body encoding',
        cause: err,
      });
    default:
      return new ApiError({
        status,
        code: 'validation_error',
        message: `unreadable request body (${type})`,
        cause: err,
      });
  }
}

/** The request id set by the request-id middleware, or `unknown` before it ran. */
function requestIdOf(res: { locals: Record<string, unknown> }): string {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : 'unknown';
}

/** Answers every unmatched route with a 404 in the one error shape. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(ApiError.notFound(`no route for ${req.method} ${req.path}`));
};

/**
 * The last middleware: maps the error, logs it once (server errors with their cause, client
 * errors briefly) and answers with the one error shape.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  const apiError = toApiError(err);
  const log = req.log;
  if (log) {
    if (apiError.status >= 500) {
      log.error({ err: apiError.cause ?? apiError, code: apiError.code }, apiError.message);
    } else {
      log.debug({ code: apiError.code, details: apiError.details }, apiError.message);
    }
  }
  if (apiError.retryAfterSeconds !== undefined)
    res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
  res.status(apiError.status).json(apiError.toBody(requestIdOf(res)));
};

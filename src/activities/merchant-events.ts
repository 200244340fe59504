/**
 * The activity that sends merchant events to the merchant's webhook endpoint, signed by the
 * Standard Webhooks library (src/events/merchant-events.ts).
 *
 * One call is one attempt: it reports what happened, and the delivery workflow decides when to
 * try again (exponential backoff with jitter, for about three days; src/workflows/
 * delivery-schedule.ts). Every non-2xx answer, a redirect (never followed), a timeout or a
 * network error is worth another attempt; `410 Gone` turns the endpoint off instead.
 */
import type { FailureType } from '../domain/failure-types';
import { asyncLocalStorage } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  MerchantEventSchema,
  merchantEventSecretProblem,
  signMerchantEvent,
  type MerchantEvent,
} from '../events/merchant-events';
import { redactUrl, type MerchantEndpointSwitch } from '../events/merchant-endpoint';

/** Error type of a permanent refusal by the merchant's endpoint (legacy deliveries: 410, or nothing sendable). */
export const MERCHANT_ENDPOINT_REJECTED = 'MerchantEndpointRejected' satisfies FailureType;
/** Error type of a failure worth retrying (legacy deliveries). */
export const MERCHANT_ENDPOINT_UNAVAILABLE = 'MerchantEndpointUnavailable' satisfies FailureType;

/** The default time one attempt may take, response included (Standard Webhooks: 15 to 30 s). */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 15_000;

/** The subset of a pino logger this module uses. */
export interface MerchantEventLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Dependencies and settings of {@link createMerchantEventActivities}. */
export interface MerchantEventActivitiesOptions {
  /** The merchant's webhook URL; empty or absent switches events off. */
  url?: string | null;
  /** `whsec_…` secrets, or several during a rotation (each signs every attempt). */
  secrets: readonly string[];
  /** How long one attempt may take, response included. @default 15_000 */
  timeoutMs?: number;
  /** The endpoint's on/off switch (it is turned off by a 410); without one, a 410 only fails the event. */
  endpointSwitch?: Pick<MerchantEndpointSwitch, 'state' | 'turnOff'>;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** Where attempts are logged; nothing is logged without it. */
  logger?: MerchantEventLogger;
  /** The clock used for the signature timestamp, epoch ms; `Date.now` by default. */
  clock?: () => number;
}

/**
 * What one attempt came to:
 * - `delivered`: the endpoint answered 2xx;
 * - `failed`: anything else worth another attempt (`retryAfterMs` when the endpoint said when);
 * - `gone`: the endpoint answered 410 and is now turned off;
 * - `endpoint_off`, `not_configured`, `invalid`: nothing was sent (the endpoint is off, no URL is
 *   configured, or the event does not match its schema).
 */
export type MerchantEventAttempt =
  | { result: 'delivered'; httpStatus: number; reason: string }
  | { result: 'failed'; httpStatus: number; reason: string; retryAfterMs?: number }
  | { result: 'gone' | 'endpoint_off' | 'not_configured' | 'invalid'; httpStatus: number; reason: string };

/** The outcome of a legacy delivery that did not throw. */
export interface MerchantEventDelivery {
  status: number;
  delivered: boolean;
}

/** The merchant event activities. */
export interface MerchantEventActivities {
  /** Makes one attempt at POSTing one signed event; never throws for what the endpoint answers. */
  sendMerchantEvent(event: MerchantEvent): Promise<MerchantEventAttempt>;
  /**
   * The contract of deliveries started before attempts were scheduled by the workflow: one
   * attempt, thrown as a retryable `MerchantEndpointUnavailable` or a non-retryable
   * `MerchantEndpointRejected` failure when it did not deliver.
   */
  deliverMerchantEvent(event: MerchantEvent): Promise<MerchantEventDelivery>;
}

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable.
 * @param now epoch ms, for a date
 */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Builds the merchant event activities.
 * @throws {TypeError} when a URL is configured but is not an http(s) URL without embedded
 *   credentials, or its secrets are missing or not `whsec_…`, or the timeout is not positive
 */
export function createMerchantEventActivities(
  options: MerchantEventActivitiesOptions,
): MerchantEventActivities {
  const { logger, endpointSwitch } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const clock = options.clock ?? Date.now;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const rawUrl = options.url?.trim();

  let endpoint: URL | undefined;
  if (rawUrl) {
    // Messages never quote the URL: it may carry credentials.
    if (!URL.canParse(rawUrl)) throw new TypeError('the merchant event URL is not a valid URL');
    endpoint = new URL(rawUrl);
    if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
      throw new TypeError(`the merchant event URL must be http(s), not ${endpoint.protocol}`);
    }
    if (endpoint.username !== '' || endpoint.password !== '') {
      // fetch refuses such URLs, and its error would quote them.
      throw new TypeError('the merchant event URL must not embed credentials');
    }
    if (options.secrets.length === 0)
      throw new TypeError('a merchant event URL is configured without a secret');
    for (const secret of options.secrets) {
      const problem = merchantEventSecretProblem(secret);
      if (problem !== undefined) throw new TypeError(`a merchant event secret ${problem}`);
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError('the merchant event timeout must be a positive number of milliseconds');
    }
  }
  const secrets = [...options.secrets];
  const endpointForLogs = endpoint ? redactUrl(endpoint) : '';

  async function post(target: URL, event: MerchantEvent): Promise<MerchantEventAttempt> {
    const fields = { eventId: event.id, eventType: event.type, endpoint: endpointForLogs };
    // The caller's event is sent as given (validated only), so no field is silently stripped.
    const rawBody = JSON.stringify(event);
    const now = clock();
    // Built before sending: a value no header can carry (a control character in an id) would make
    // fetch throw on every attempt, so nothing is sent and the event fails for good.
    let headers: Headers;
    try {
      headers = new Headers({
        'content-type': 'application/json',
        ...signMerchantEvent(event.id, rawBody, secrets, Math.floor(now / 1000)),
      });
    } catch {
      return { result: 'invalid', httpStatus: 0, reason: 'the event id cannot be sent as a header value' };
    }

    const timeout = AbortSignal.timeout(timeoutMs);
    // Inside a Temporal activity, a cancellation (or worker shutdown) also aborts the request.
    const cancellation = asyncLocalStorage.getStore()?.cancellationSignal;
    const signal = cancellation ? AbortSignal.any([timeout, cancellation]) : timeout;
    let response: Response;
    try {
      response = await fetchImpl(target, {
        method: 'POST',
        headers,
        body: rawBody,
        // A redirect is never followed: the merchant configures the final URL.
        redirect: 'manual',
        signal,
      });
      // Drain the body within the same timeout, so the connection is released.
      await response.arrayBuffer();
    } catch (error) {
      if (cancellation?.aborted) throw cancellation.reason;
      const reason = timeout.aborted
        ? `no answer within ${timeoutMs / 1000} s`
        : `could not reach the endpoint (${error instanceof Error ? error.name : 'error'})`;
      logger?.warn({ ...fields, reason }, 'merchant event not delivered');
      return { result: 'failed', httpStatus: 0, reason };
    }

    const { status } = response;
    if (status >= 200 && status < 300) {
      logger?.info({ ...fields, status }, 'merchant event delivered');
      return { result: 'delivered', httpStatus: status, reason: `HTTP ${status}` };
    }
    if (status === 410) {
      const at = new Date(clock()).toISOString();
      await endpointSwitch?.turnOff({ endpoint: endpointForLogs, eventId: event.id, status, at });
      logger?.warn({ ...fields, status }, 'merchant endpoint answered 410 Gone: it is turned off');
      return { result: 'gone', httpStatus: status, reason: 'HTTP 410 Gone: the endpoint is turned off' };
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock());
    const reason =
      status >= 300 && status < 400
        ? `HTTP ${status} redirect (not followed: configure the final URL)`
        : `HTTP ${status}`;
    logger?.warn({ ...fields, status, retryAfterMs }, 'merchant event not delivered');
    return {
      result: 'failed',
      httpStatus: status,
      reason,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  async function sendMerchantEvent(event: MerchantEvent): Promise<MerchantEventAttempt> {
    if (!endpoint) {
      logger?.info({ eventId: event.id, eventType: event.type }, 'merchant events are off: no endpoint URL');
      return { result: 'not_configured', httpStatus: 0, reason: 'no MERCHANT_EVENTS_URL is configured' };
    }
    if (!MerchantEventSchema.safeParse(event).success) {
      return { result: 'invalid', httpStatus: 0, reason: 'the event does not match its published schema' };
    }
    const state = await endpointSwitch?.state();
    if (state && !state.enabled) {
      return {
        result: 'endpoint_off',
        httpStatus: 0,
        reason: `the endpoint is turned off since ${state.at} (HTTP ${state.status} for ${state.eventId})`,
      };
    }
    return post(endpoint, event);
  }

  async function deliverMerchantEvent(event: MerchantEvent): Promise<MerchantEventDelivery> {
    const attempt = await sendMerchantEvent(event);
    if (attempt.result === 'delivered') return { status: attempt.httpStatus, delivered: true };
    if (attempt.result === 'not_configured') return { status: 0, delivered: false };
    throw ApplicationFailure.create({
      message: `merchant event ${event.id}: ${attempt.reason}`,
      type: attempt.result === 'failed' ? MERCHANT_ENDPOINT_UNAVAILABLE : MERCHANT_ENDPOINT_REJECTED,
      nonRetryable: attempt.result !== 'failed',
      details: [{ status: attempt.httpStatus }],
      ...(attempt.result === 'failed' && attempt.retryAfterMs !== undefined
        ? { nextRetryDelay: attempt.retryAfterMs }
        : {}),
    });
  }

  return { sendMerchantEvent, deliverMerchantEvent };
}

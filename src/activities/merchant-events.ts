/**
 * The activity that delivers merchant events to the merchant's webhook endpoint.
 *
 * Delivery is at least once: the workflow retries this activity (for days) on every retryable
 * failure, and the event's deterministic `id` lets the merchant drop duplicates. The retry
 * policy belongs to the workflow; this module only tells retryable from permanent failures.
 */
import { asyncLocalStorage } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  MERCHANT_EVENT_HEADERS,
  MerchantEventSchema,
  signMerchantEvent,
  type MerchantEvent,
} from '../events/merchant-events';

/** Error type of a permanent refusal by the merchant's endpoint (a 4xx other than 408, 409, 425, 429). */
export const MERCHANT_ENDPOINT_REJECTED = 'MerchantEndpointRejected';
/** Error type of a failure worth retrying: 5xx, 408, 409, 425, 429, a redirect, a network error or a timeout. */
export const MERCHANT_ENDPOINT_UNAVAILABLE = 'MerchantEndpointUnavailable';
/** Error type of an event that does not match its schema (a bug in the caller; retrying cannot help). */
export const INVALID_MERCHANT_EVENT = 'InvalidMerchantEvent';

/** 4xx statuses that mean "try again later" rather than "never". */
const RETRYABLE_CLIENT_STATUSES: ReadonlySet<number> = new Set([408, 409, 425, 429]);

/** The longest `Retry-After` the endpoint may impose on the next attempt. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** The subset of a pino logger this module uses. */
export interface MerchantEventLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Dependencies and settings of {@link createMerchantEventActivities}. */
export interface MerchantEventActivitiesOptions {
  /** The merchant's webhook URL; empty or absent switches events off. */
  url?: string | null;
  /** The endpoint secret, or several during a rotation (the header then carries one signature each). */
  secret: string | readonly string[];
  /**
   * How long one delivery may take, response included.
   * @default 10_000
   */
  timeoutMs?: number;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** Where delivery outcomes are logged; nothing is logged without it. */
  logger?: MerchantEventLogger;
  /** The clock used for the signature timestamp, epoch ms; `Date.now` by default. */
  clock?: () => number;
}

/** The outcome of a delivery that did not throw. */
export interface MerchantEventDelivery {
  /** The endpoint's HTTP status; 0 when nothing was sent. */
  status: number;
  /** Whether the endpoint accepted the event (2xx). */
  delivered: boolean;
}

/** The merchant event activities. */
export interface MerchantEventActivities {
  /**
   * POSTs one signed event to the merchant's endpoint.
   *
   * @returns `{ delivered: true, status }` on 2xx; `{ delivered: false, status: 0 }` when no URL is configured
   * @throws {ApplicationFailure} non-retryable `MerchantEndpointRejected` (details: `{ status }`) or
   *   `InvalidMerchantEvent`; retryable `MerchantEndpointUnavailable` (details: `{ status }`, 0 when
   *   no response arrived)
   */
  deliverMerchantEvent(event: MerchantEvent): Promise<MerchantEventDelivery>;
}

/** The URL without credentials or query string, safe for logs and error messages. */
function redactUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Math.min(Number(header.trim()) * 1000, MAX_RETRY_AFTER_MS);
}

/**
 * Builds the merchant event activities.
 *
 * @param options the endpoint, its secret and the transport
 * @returns the activities, to register on the worker
 * @throws {TypeError} when a URL is configured but is not an http(s) URL without embedded
 *   credentials, or has no secret, or the timeout is not positive
 */
export function createMerchantEventActivities(
  options: MerchantEventActivitiesOptions,
): MerchantEventActivities {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? Date.now;
  const fetchImpl = options.fetch ?? globalThis.fetch;

  const rawUrl = options.url?.trim();
  if (!rawUrl) {
    return {
      deliverMerchantEvent(event) {
        logger?.info(
          { eventId: event.id, eventType: event.type },
          'merchant events are off: no endpoint URL',
        );
        return Promise.resolve({ status: 0, delivered: false });
      },
    };
  }

  // Messages never quote the URL: it may carry credentials.
  if (!URL.canParse(rawUrl)) throw new TypeError('the merchant event URL is not a valid URL');
  const endpoint = new URL(rawUrl);
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new TypeError(`the merchant event URL must be http(s), not ${endpoint.protocol}`);
  }
  if (endpoint.username !== '' || endpoint.password !== '') {
    // fetch refuses such URLs, and its error would quote them.
    throw new TypeError('the merchant event URL must not embed credentials');
  }
  const secrets = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) {
    throw new TypeError('a merchant event URL is configured without a secret');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('the merchant event timeout must be a positive number of milliseconds');
  }
  const endpointForLogs = redactUrl(endpoint);

  async function deliverMerchantEvent(event: MerchantEvent): Promise<MerchantEventDelivery> {
    const parsed = MerchantEventSchema.safeParse(event);
    if (!parsed.success) {
      throw ApplicationFailure.create({
        message: `merchant event ${String((event as { id?: unknown }).id)} does not match its schema`,
        type: INVALID_MERCHANT_EVENT,
        nonRetryable: true,
        details: [
          { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
        ],
      });
    }
    // The caller's event is sent as given (validation only), so no field is silently stripped.
    const rawBody = JSON.stringify(event);
    const timestampSec = Math.floor(clock() / 1000);
    const fields = { eventId: event.id, eventType: event.type, endpoint: endpointForLogs };

    // Built before sending: a value no header can carry (a control character in an id) would make
    // fetch throw on every attempt, so it is a permanent failure, not days of retries.
    let headers: Headers;
    try {
      headers = new Headers({
        'content-type': 'application/json',
        [MERCHANT_EVENT_HEADERS.signature]: signMerchantEvent(rawBody, secrets, timestampSec),
        [MERCHANT_EVENT_HEADERS.eventId]: event.id,
        [MERCHANT_EVENT_HEADERS.eventType]: event.type,
      });
    } catch (error) {
      throw ApplicationFailure.create({
        message: `merchant event ${JSON.stringify(event.id)} cannot be sent: a header value is not valid`,
        type: INVALID_MERCHANT_EVENT,
        nonRetryable: true,
        cause: error instanceof Error ? error : undefined,
      });
    }

    const timeout = AbortSignal.timeout(timeoutMs);
    // Inside a Temporal activity, a cancellation (or worker shutdown) also aborts the request.
    const cancellation = asyncLocalStorage.getStore()?.cancellationSignal;
    const signal = cancellation ? AbortSignal.any([timeout, cancellation]) : timeout;

    let response: Response;
    try {
      response = await fetchImpl(endpoint, {
        method: 'POST',
        headers,
        body: rawBody,
        // A redirect would turn the POST into a GET elsewhere; the merchant must configure the final URL.
        redirect: 'manual',
        signal,
      });
      // Drain the body within the same timeout, so the connection is released.
      await response.arrayBuffer();
    } catch (error) {
      if (cancellation?.aborted) throw cancellation.reason;
      const timedOut = timeout.aborted;
      const message = timedOut
        ? `merchant endpoint did not answer within ${timeoutMs} ms`
        : 'merchant endpoint could not be reached';
      logger?.warn({ ...fields, timedOut, error: error instanceof Error ? error.name : 'unknown' }, message);
      throw ApplicationFailure.create({
        message,
        type: MERCHANT_ENDPOINT_UNAVAILABLE,
        nonRetryable: false,
        details: [{ status: 0 }],
        cause: error instanceof Error ? error : undefined,
      });
    }

    const { status } = response;
    if (status >= 200 && status < 300) {
      logger?.info({ ...fields, status }, 'merchant event delivered');
      return { status, delivered: true };
    }
    if (status >= 400 && status < 500 && !RETRYABLE_CLIENT_STATUSES.has(status)) {
      logger?.warn({ ...fields, status }, 'merchant endpoint rejected the event');
      throw ApplicationFailure.create({
        message: `merchant endpoint rejected event ${event.id} with HTTP ${status}`,
        type: MERCHANT_ENDPOINT_REJECTED,
        nonRetryable: true,
        details: [{ status }],
      });
    }
    const nextRetryDelay = retryAfterMs(response.headers.get('retry-after'));
    logger?.warn({ ...fields, status, nextRetryDelay }, 'merchant endpoint unavailable');
    throw ApplicationFailure.create({
      message: `merchant endpoint answered event ${event.id} with HTTP ${status}`,
      type: MERCHANT_ENDPOINT_UNAVAILABLE,
      nonRetryable: false,
      details: [{ status }],
      ...(nextRetryDelay !== undefined ? { nextRetryDelay } : {}),
    });
  }

  return { deliverMerchantEvent };
}

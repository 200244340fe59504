/**
 * The API's in-process metrics: one prom-client `Registry` per app (so several apps in one test
 * process do not share counters), served at `GET /metrics` with the default process metrics,
 * plus a synchronous view of the webhook counters for tests and health checks. Routes are
 * labelled by their Express pattern, never the raw URL (bounded label values). See
 * docs/observability.md.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestRecord } from './request-id';

/** What happened to one QFPay notification. */
export type WebhookResult =
  /** Signalled to its workflow; QFPay got `SUCCESS`. */
  | 'accepted'
  /** Acknowledged with `SUCCESS` without a signal (e.g. a failed token creation). */
  | 'ignored'
  /** For a subscription whose workflow has ended: acknowledged, and it changes nothing. */
  | 'late'
  /** `X-QF-SIGN` missing or wrong: 401. */
  | 'invalid_signature'
  /** Not JSON, or not a notification QFPay documents: 400. */
  | 'malformed'
  /** A notification the engine cannot turn into a fact (unknown state, unknown cycle): 400. */
  | 'rejected'
  /** Temporal did not accept the signal: 503, QFPay retries. */
  | 'temporal_unavailable'
  /** Anything else: 500. */
  | 'error';

/** The metrics of one app. */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly #webhookCounts = new Map<string, number>();
  readonly #webhooks: Counter<'notify_type' | 'result'>;
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #durations: Histogram<'method' | 'route'>;

  constructor() {
    // Process metrics (CPU, memory, event-loop lag, GC, handles) under their standard names.
    collectDefaultMetrics({ register: this.registry });
    this.#webhooks = new Counter({
      name: 'qfpay_webhook_notifications_total',
      help: 'QFPay notifications received, by notify_type and what became of them',
      labelNames: ['notify_type', 'result'],
      registers: [this.registry],
    });
    this.#requests = new Counter({
      name: 'api_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.#durations = new Histogram({
      name: 'api_http_request_duration_seconds',
      help: 'HTTP request duration, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers: [this.registry],
    });
  }

  /**
   * Counts one notification.
   * @param notifyType QFPay's `notify_type`, or `unknown` when the body was not read
   */
  webhook(notifyType: string, result: WebhookResult): void {
    this.#webhooks.inc({ notify_type: notifyType, result });
    const key = `${notifyType}:${result}`;
    this.#webhookCounts.set(key, (this.#webhookCounts.get(key) ?? 0) + 1);
  }

  /** How many notifications of `notifyType` ended with `result` so far. */
  webhookCount(notifyType: string, result: WebhookResult): number {
    return this.#webhookCounts.get(`${notifyType}:${result}`) ?? 0;
  }

  /** Records one finished HTTP request (called by the access log). */
  request(record: RequestRecord): void {
    this.#requests.inc({ method: record.method, route: record.route, status: String(record.status) });
    this.#durations.observe({ method: record.method, route: record.route }, record.durationMs / 1000);
  }
}

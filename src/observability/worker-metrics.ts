/**
 * The engine's own worker metrics and log fields. Metrics go through the Temporal SDK's metric
 * meter of the running activity, so they are exported on the worker's Prometheus endpoint
 * (`WORKER_METRICS_PORT`) next to the SDK's metrics, already tagged with `namespace`,
 * `task_queue` and `activity_type`. Outside an activity (the API process, scripts, tests) there is
 * no meter and recording does nothing.
 *
 * The dunning outcome counter is recorded by the workflow itself (`closeEpisode` in
 * `src/workflows/subscription.ts`), through the workflow's meter; its name is listed here.
 */
import { Context } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';
import type { GatewayRequestEvent } from '../gateways/port';

/** Names of the engine's metrics on the worker endpoint (no `temporal_` prefix, no `_total`). */
export const WORKER_METRICS = {
  /** Counter: QFPay API calls, by `endpoint`, `outcome` and (failures only) `reason`. */
  qfpayRequests: 'qfpay_requests',
  /** Histogram (seconds): QFPay API call latency, by `endpoint` and `outcome`. */
  qfpayRequestDuration: 'qfpay_request_duration_seconds',
  /** Counter: QFPay activities failed with a QFPay error, by `kind` and `reason`. */
  qfpayActivityFailures: 'qfpay_activity_failures',
  /** Counter: dunning episodes closed, by `outcome` (recorded by the workflow). */
  dunningEpisodesClosed: 'dunning_episodes_closed',
} as const;

/**
 * Histogram buckets of {@link WORKER_METRICS.qfpayRequestDuration}, in seconds: QFPay answers in
 * tens to hundreds of milliseconds; the upper buckets catch the 10 s client timeout.
 */
export const QFPAY_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** The meter of the running activity, or `undefined` outside one. */
export function activityMetricMeter(): MetricMeter | undefined {
  try {
    return Context.current().metricMeter;
  } catch {
    return undefined;
  }
}

/**
 * Records one QFPay call (the QFPay client's `onRequest` hook).
 * @param meter defaults to the running activity's meter; nothing is recorded without one
 */
export function recordQfpayRequest(
  event: GatewayRequestEvent,
  meter: MetricMeter | undefined = activityMetricMeter(),
): void {
  if (!meter) return;
  const tags = { endpoint: event.endpoint, outcome: event.outcome };
  meter
    .createCounter(WORKER_METRICS.qfpayRequests, 'calls', 'QFPay API calls')
    .add(1, event.reason === undefined ? tags : { ...tags, reason: event.reason });
  meter
    .createHistogram(WORKER_METRICS.qfpayRequestDuration, 'float', 's', 'QFPay API call latency')
    .record(Math.max(0, event.durationMs) / 1000, tags);
}

/**
 * Records a QFPay activity that fails with a QFPay error (the error turned into a Temporal
 * failure). Declined charges are answers, not failures, and are not counted here.
 * @param meter defaults to the running activity's meter; nothing is recorded without one
 */
export function recordQfpayActivityFailure(
  failure: { kind: string; reason: string },
  meter: MetricMeter | undefined = activityMetricMeter(),
): void {
  meter
    ?.createCounter(WORKER_METRICS.qfpayActivityFailures, 'failures', 'QFPay activities failed')
    .add(1, { kind: failure.kind, reason: failure.reason });
}

/** The ids that tie a log line written inside an activity to its workflow in the Web UI. */
export interface ActivityLogFields {
  /** Absent for an activity started on its own, outside a workflow. */
  workflowId?: string;
  workflowRunId?: string;
  activityId: string;
  activityType: string;
  attempt: number;
}

/**
 * The running activity's ids, named as the SDK's own log metadata names them, for log lines the
 * engine writes with its pino logger; `{}` outside an activity.
 */
export function activityLogFields(): ActivityLogFields | Record<string, never> {
  let info;
  try {
    info = Context.current().info;
  } catch {
    return {};
  }
  return {
    workflowId: info.workflowExecution?.workflowId,
    workflowRunId: info.workflowExecution?.runId,
    activityId: info.activityId,
    activityType: info.activityType,
    attempt: info.attempt,
  };
}

/**
 * The engine's worker metrics: what each recorder writes to a metric meter, and that nothing is
 * recorded (and nothing throws) outside an activity.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { noopMetricMeter } from '@temporalio/common';
import {
  WORKER_METRICS,
  activityLogFields,
  activityMetricMeter,
  recordQfpayActivityFailure,
  recordQfpayRequest,
} from '../../src/observability/worker-metrics';

interface Recorded {
  kind: 'counter' | 'histogram';
  name: string;
  unit?: string;
  value: number;
  tags?: MetricTags;
}

/** A meter that remembers every value recorded through it. */
function recordingMeter(): { meter: MetricMeter; recorded: Recorded[] } {
  const recorded: Recorded[] = [];
  const meter: MetricMeter = {
    createCounter: (name, unit) => ({
      ...noopMetricMeter.createCounter(name, unit),
      add: (value, tags) => recorded.push({ kind: 'counter', name, unit, value, tags }),
    }),
    createHistogram: (name, valueType, unit) => ({
      ...noopMetricMeter.createHistogram(name, valueType, unit),
      record: (value, tags) => recorded.push({ kind: 'histogram', name, unit, value, tags }),
    }),
    createGauge: (name, valueType, unit) => noopMetricMeter.createGauge(name, valueType, unit),
    withTags: () => meter,
  };
  return { meter, recorded };
}

describe('worker metrics', () => {
  it('a QFPay call: one counter by endpoint and outcome, and its latency in seconds', () => {
    const { meter, recorded } = recordingMeter();
    recordQfpayRequest({ endpoint: '/subscription/v1/query', durationMs: 250, outcome: 'success' }, meter);
    assert.deepEqual(recorded, [
      {
        kind: 'counter',
        name: WORKER_METRICS.qfpayRequests,
        unit: 'calls',
        value: 1,
        tags: { endpoint: '/subscription/v1/query', outcome: 'success' },
      },
      {
        kind: 'histogram',
        name: WORKER_METRICS.qfpayRequestDuration,
        unit: 's',
        value: 0.25,
        tags: { endpoint: '/subscription/v1/query', outcome: 'success' },
      },
    ]);
  });

  it('a failed QFPay call carries the reason on the counter only', () => {
    const { meter, recorded } = recordingMeter();
    recordQfpayRequest(
      { endpoint: '/subscription/v1/charge', durationMs: 10_000, outcome: 'transient', reason: 'timeout' },
      meter,
    );
    assert.deepEqual(recorded[0]?.tags, {
      endpoint: '/subscription/v1/charge',
      outcome: 'transient',
      reason: 'timeout',
    });
    assert.deepEqual(recorded[1]?.tags, { endpoint: '/subscription/v1/charge', outcome: 'transient' });
  });

  it('an activity failure is counted by kind and reason', () => {
    const { meter, recorded } = recordingMeter();
    recordQfpayActivityFailure({ kind: 'permanent', reason: 'validation' }, meter);
    assert.deepEqual(recorded, [
      {
        kind: 'counter',
        name: WORKER_METRICS.qfpayActivityFailures,
        unit: 'failures',
        value: 1,
        tags: { kind: 'permanent', reason: 'validation' },
      },
    ]);
  });

  it('outside an activity: no meter, no log fields, and recording is a no-op', () => {
    assert.equal(activityMetricMeter(), undefined);
    assert.deepEqual(activityLogFields(), {});
    recordQfpayRequest({ endpoint: '/product/v1/query', durationMs: 1, outcome: 'success' });
    recordQfpayActivityFailure({ kind: 'transient', reason: 'timeout' });
  });
});

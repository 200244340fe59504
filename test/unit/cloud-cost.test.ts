/**
 * The Temporal Cloud action count of a history, rule by rule (docs.temporal.io/cloud/actions).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { temporal } from '@temporalio/proto';
import { activeStorageCostUsd, actionsCostUsd, cloudActions } from '../../bench/cloud-cost';
import { historyEvent as ev } from '../helpers/history-events';

const { EventType } = temporal.api.enums.v1;
const started = () => ev(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
const signaled = () => ev(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
const taskScheduled = () => ev(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
const taskStarted = () => ev(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
const taskCompleted = (nonfirstLocalActivityExecutionAttempts = 0) =>
  ev(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, {
    workflowTaskCompletedEventAttributes: { meteringMetadata: { nonfirstLocalActivityExecutionAttempts } },
  });
const localActivity = (taskId: number) =>
  ev(EventType.EVENT_TYPE_MARKER_RECORDED, {
    markerRecordedEventAttributes: temporal.api.history.v1.MarkerRecordedEventAttributes.fromObject({
      markerName: 'core_local_activity',
      workflowTaskCompletedEventId: taskId,
    }),
  });
const upsert = (...names: string[]) =>
  ev(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, {
    upsertWorkflowSearchAttributesEventAttributes: {
      searchAttributes: {
        indexedFields: Object.fromEntries(names.map((n) => [n, { data: new Uint8Array() }])),
      },
    },
  });

describe('Temporal Cloud actions of a history', () => {
  it('a signal-with-start that started the workflow is one action, a later signal one more', () => {
    const count = cloudActions([
      started(),
      signaled(),
      taskScheduled(),
      taskStarted(),
      taskCompleted(),
      signaled(),
    ]);
    assert.deepEqual(count.byKind, { workflow: 1, signal: 1 });
    assert.equal(count.total, 2);
  });

  it('a client start followed by a signal in a later task is two actions', () => {
    const count = cloudActions([started(), taskScheduled(), signaled()]);
    assert.deepEqual(count.byKind, { workflow: 1, signal: 1 });
  });

  it('an activity is one action, plus one per retry', () => {
    const count = cloudActions([
      ev(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
      ev(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, { activityTaskStartedEventAttributes: { attempt: 3 } }),
      ev(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED),
      ev(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
      ev(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, { activityTaskStartedEventAttributes: { attempt: 1 } }),
    ]);
    assert.deepEqual(count.byKind, { activity: 2, 'activity retry': 2 });
  });

  it('local activities count once per workflow task, plus their reported retries', () => {
    const count = cloudActions([
      taskCompleted(2),
      localActivity(4),
      localActivity(4),
      localActivity(4),
      taskCompleted(),
      localActivity(9),
      ev(EventType.EVENT_TYPE_MARKER_RECORDED, {
        markerRecordedEventAttributes: { markerName: 'core_patch' },
      }),
    ]);
    assert.deepEqual(count.byKind, { 'local activity': 4 });
  });

  it('timers, upserts, children and updates; the versioning attribute alone is exempt', () => {
    const count = cloudActions([
      ev(EventType.EVENT_TYPE_TIMER_STARTED),
      ev(EventType.EVENT_TYPE_TIMER_CANCELED),
      upsert('NextBillingTime', 'SubscriptionState'),
      upsert('TemporalChangeVersion'),
      ev(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
      ev(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED),
      ev(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
      ev(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED),
      ev(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW),
    ]);
    assert.deepEqual(count.byKind, {
      timer: 1,
      'search attributes': 1,
      'child workflow': 2,
      update: 1,
      workflow: 1,
    });
  });

  it('workflow tasks cost nothing, and the total is the sum of the kinds', () => {
    const kinds = [
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      EventType.EVENT_TYPE_TIMER_STARTED,
      EventType.EVENT_TYPE_TIMER_FIRED,
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...kinds), { maxLength: 60 }), (types) => {
        const events = types.map((t) => ev(t));
        const count = cloudActions(events);
        assert.equal(
          count.total,
          Object.values(count.byKind).reduce((a, b) => a + b, 0),
        );
        const free = events.filter(
          (e) =>
            e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED ||
            e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ||
            e.eventType === EventType.EVENT_TYPE_TIMER_FIRED,
        );
        // Every other event is one action, except a signal right after the start.
        const swsCount = types.filter(
          (t, i) =>
            i > 0 &&
            t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
            types[i - 1] === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        ).length;
        assert.equal(count.total, events.length - free.length - swsCount);
      }),
    );
  });

  it('prices: $50 per million actions, $0.042 per GB-hour of active storage for 744 hours', () => {
    assert.equal(actionsCostUsd(1_000_000), 50);
    assert.ok(Math.abs(activeStorageCostUsd(1e9) - 31.248) < 1e-9);
  });
});

/**
 * What a stretch of a workflow's history costs on Temporal Cloud, from the history alone.
 *
 * Actions follow Temporal's published billing rules (docs.temporal.io/cloud/actions, read on
 * 2026-11-29), event by event:
 * - a workflow start, and a continue-as-new (billed as the new run's start): 1 each;
 * - a signal: 1; a signal-with-start that started the workflow is 1 in all, not 2 (in history: the
 *   start immediately followed by the signal);
 * - an activity scheduled: 1, and 1 more per retry (the started event's `attempt` − 1);
 * - local activities: 1 per workflow task that recorded any (their markers), plus the retries
 *   the task's completion reports (`meteringMetadata.nonfirstLocalActivityExecutionAttempts`);
 * - a timer started: 1;
 * - a search-attribute upsert: 1 (one that only sets `TemporalChangeVersion` is exempt);
 * - a child workflow initiated: 2 (the recorded intent and the start);
 * - an update accepted: 1.
 * Workflow tasks, completions, cancellations and markers of other kinds are free. Queries are
 * billed too (1 each) but leave nothing in history: the caller adds them.
 *
 * Storage is billed per GB-hour; an open workflow's history is active storage for every hour
 * of the month (docs.temporal.io/cloud/pricing: $0.042 per GBh active, actions from $50 per
 * million).
 */
import { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Temporal Cloud's pay-as-you-go list prices (first tier), USD. */
export const CLOUD_PRICES = {
  perAction: 50 / 1_000_000,
  perActiveGbHour: 0.042,
  /** Temporal's GB → GBh conversion for a month of storage. */
  hoursPerMonth: 744,
} as const;

export interface ActionCount {
  total: number;
  /** By what was billed: `workflow`, `signal`, `activity`, `activity retry`, `local activity`, `timer`, `search attributes`, `child workflow`, `update`. */
  byKind: Record<string, number>;
}

const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
const CHANGE_VERSION = 'TemporalChangeVersion';

/**
 * The actions billed for `events`, a slice of one run's history (pass the whole history for the
 * signal-with-start rule to see the start).
 */
export function cloudActions(events: readonly HistoryEvent[]): ActionCount {
  const { EventType } = temporal.api.enums.v1;
  const byKind: Record<string, number> = {};
  const add = (kind: string, n = 1) => {
    if (n > 0) byKind[kind] = (byKind[kind] ?? 0) + n;
  };
  const tasksWithLocalActivities = new Set<string>();
  events.forEach((event, i) => {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        add('workflow');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const startedBySignal =
          i > 0 && events[i - 1]?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED;
        if (!startedBySignal) add('signal');
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        add('activity');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        add('activity retry', (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const attrs = event.markerRecordedEventAttributes;
        if (attrs?.markerName === LOCAL_ACTIVITY_MARKER)
          tasksWithLocalActivities.add(String(attrs.workflowTaskCompletedEventId ?? i));
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        add(
          'local activity',
          event.workflowTaskCompletedEventAttributes?.meteringMetadata
            ?.nonfirstLocalActivityExecutionAttempts ?? 0,
        );
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        add('timer');
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = Object.keys(
          event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
        );
        if (fields.some((f) => f !== CHANGE_VERSION)) add('search attributes');
        break;
      }
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        add('child workflow', 2);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        add('update');
        break;
      default:
        break;
    }
  });
  add('local activity', tasksWithLocalActivities.size);
  return { total: Object.values(byKind).reduce((a, b) => a + b, 0), byKind };
}

/** USD a month for `actions` actions at the first-tier price. */
export function actionsCostUsd(actions: number): number {
  return actions * CLOUD_PRICES.perAction;
}

/** USD a month of active storage for an open workflow whose history holds `bytes`. */
export function activeStorageCostUsd(bytes: number): number {
  return (bytes / 1e9) * CLOUD_PRICES.hoursPerMonth * CLOUD_PRICES.perActiveGbHour;
}

/**
 * Evidence for a finding: a workflow's history as a readable timeline, its payloads decoded (the
 * suite holds the development encryption key), so a violation found by one run can be explained
 * without running it again.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { developmentPayloadCodec } from '../src/dev/development-data-converter';

const codec = developmentPayloadCodec();

async function decoded(payloads: temporal.api.common.v1.IPayloads | null | undefined): Promise<unknown[]> {
  const list = (payloads?.payloads ?? []) as Payload[];
  try {
    const plain = await codec.decode(list);
    return plain.map((p) => defaultPayloadConverter.fromPayload(p));
  } catch (err) {
    return [`(not decoded: ${String(err)})`];
  }
}

/**
 * The subscriptions a violation names: by their own id (`sub_<hex>`) or through one of their
 * orders (`sub_ord_<hex>_<n>`, whose hex is the subscription's).
 */
export function subscriptionsNamed(violation: string): string[] {
  return [...violation.matchAll(/\bsub_(?:ord_)?([0-9a-f]+)/g)].map((m) => `sub_${m[1]}`);
}

/** At most `max` characters of a value's JSON. */
function brief(value: unknown, max = 600): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** One line per history event: its id, time, type, and what it carried. */
export async function workflowTimeline(client: Client, workflowId: string): Promise<string[]> {
  const { EventType } = temporal.api.enums.v1;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const lines: string[] = [];
  for (const e of history.events ?? []) {
    const type = (EventType[e.eventType ?? 0] ?? String(e.eventType)).replace('EVENT_TYPE_', '');
    const seconds = Number(e.eventTime?.seconds ?? 0);
    const at = new Date(seconds * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6)).toISOString();
    let detail = '';
    if (e.workflowExecutionSignaledEventAttributes) {
      const a = e.workflowExecutionSignaledEventAttributes;
      detail = `${a.signalName} ${brief(await decoded(a.input))}`;
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      detail = `${a.activityType?.name} ${brief(await decoded(a.input), 300)}`;
    } else if (e.activityTaskCompletedEventAttributes) {
      detail = brief(await decoded(e.activityTaskCompletedEventAttributes.result));
    } else if (e.activityTaskFailedEventAttributes) {
      detail = e.activityTaskFailedEventAttributes.failure?.message ?? '';
    } else if (e.workflowExecutionCompletedEventAttributes) {
      detail = brief(await decoded(e.workflowExecutionCompletedEventAttributes.result), 2_000);
    } else if (e.workflowExecutionUpdateAcceptedEventAttributes) {
      const a = e.workflowExecutionUpdateAcceptedEventAttributes;
      detail = `${a.acceptedRequest?.input?.name} ${brief(await decoded(a.acceptedRequest?.input?.args))}`;
    } else if (e.workflowTaskFailedEventAttributes) {
      const a = e.workflowTaskFailedEventAttributes;
      detail = `${temporal.api.enums.v1.WorkflowTaskFailedCause[a.cause ?? 0]}: ${a.failure?.message ?? ''}`;
    } else if (e.timerStartedEventAttributes) {
      detail = `${Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)} s`;
    } else if (e.workflowExecutionStartedEventAttributes) {
      detail = brief(await decoded(e.workflowExecutionStartedEventAttributes.input), 1_000);
    }
    lines.push(`${e.eventId} ${at} ${type}${detail ? ` ${detail}` : ''}`);
  }
  return lines;
}

/** History events built by hand, for tests of code that reads a run's history. */
import { temporal } from '@temporalio/proto';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One event of `eventType`, with `attributes` (its id, its type's attributes) as a history gives them. */
export function historyEvent(
  eventType: temporal.api.enums.v1.EventType,
  attributes: HistoryEvent = {},
): HistoryEvent {
  return { eventType, ...attributes };
}

/** A builder that numbers its events as a history does: 1, 2, 3, … in the order they are made. */
export function numberedEvents(): (
  eventType: temporal.api.enums.v1.EventType,
  attributes?: HistoryEvent,
) => HistoryEvent {
  let eventId = 0;
  return (eventType, attributes = {}) => {
    eventId += 1;
    return temporal.api.history.v1.HistoryEvent.fromObject({ eventId, eventType, ...attributes });
  };
}

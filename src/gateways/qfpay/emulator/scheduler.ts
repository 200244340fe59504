/**
 * The emulator's agenda: every future event (a billing cycle, a QFPay retry, a pending charge's
 * completion, a notification delivery) ordered by emulator time, then by when it was scheduled.
 *
 * The agenda is an index, not the truth: each event names the record it concerns, and the
 * handler checks that the record still expects it at that time. So rescheduling never needs to
 * find and remove the old event, and the agenda can be rebuilt from the state file.
 */

/** An event that changes subscription state. */
export type StateEventKind = 'bill' | 'retry' | 'pending_charge';

/** A scheduled event. `ref` is the subscription id, or the notification id for a delivery. */
export interface ScheduledEvent<K extends string = string> {
  at: number;
  seq: number;
  kind: K;
  ref: string;
}

/** A binary min-heap on (`at`, `seq`). */
export class EventQueue<K extends string> {
  private readonly heap: ScheduledEvent<K>[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(event: ScheduledEvent<K>): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  peek(): ScheduledEvent<K> | undefined {
    return this.heap[0];
  }

  pop(): ScheduledEvent<K> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Two queues sharing one sequence counter: state events (processed synchronously) and
 * notification deliveries (awaited). Keeping them apart lets an API call catch up on state
 * events without waiting for HTTP deliveries, while {@link Scheduler.nextDue} still yields
 * both in one global time order.
 */
export class Scheduler {
  readonly stateEvents = new EventQueue<StateEventKind>();
  readonly deliveries = new EventQueue<'deliver'>();
  private seq = 0;

  /** Schedules a state event for a subscription. */
  schedule(kind: StateEventKind, subscriptionId: string, at: number): void {
    this.stateEvents.push({ at, seq: this.seq++, kind, ref: subscriptionId });
  }

  /** Schedules a delivery attempt of a notification. */
  scheduleDelivery(notificationId: string, at: number): void {
    this.deliveries.push({ at, seq: this.seq++, kind: 'deliver', ref: notificationId });
  }

  /** Removes and returns the earliest event of either queue due at or before `until`. */
  nextDue(until: number): ScheduledEvent<StateEventKind | 'deliver'> | undefined {
    const s = this.stateEvents.peek();
    const d = this.deliveries.peek();
    const stateFirst = s !== undefined && (d === undefined || before(s, d));
    const next = stateFirst ? s : d;
    if (next === undefined || next.at > until) return undefined;
    return stateFirst ? this.stateEvents.pop() : this.deliveries.pop();
  }

  /** Removes and returns the earliest state event due at or before `until`. */
  nextStateEventDue(until: number): ScheduledEvent<StateEventKind> | undefined {
    const s = this.stateEvents.peek();
    if (s === undefined || s.at > until) return undefined;
    return this.stateEvents.pop();
  }

  /**
   * When the earliest event of either queue is due, or undefined with none. The agenda is an
   * index: that event may turn out to change nothing (its record moved on meanwhile).
   */
  nextAt(): number | undefined {
    const times = [this.stateEvents.peek()?.at, this.deliveries.peek()?.at].filter(
      (t): t is number => t !== undefined,
    );
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** Forgets every event. */
  clear(): void {
    this.stateEvents.clear();
    this.deliveries.clear();
  }
}

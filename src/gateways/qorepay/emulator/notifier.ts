/**
 * The emulator's webhooks: the object's JSON with `event_type`, signed with the company key
 * (`X-Signature`: base64 RSA PKCS#1 v1.5 SHA-256 over the raw body), POSTed to the notify URL and
 * retried on anything but a 2xx with a short backoff (real time). Faults may drop, duplicate or
 * delay a notification. Every notification is kept in a log the control API shows. A test clock's
 * world has a notifier of its own, whose notifications also name the clock
 * ({@link TEST_CLOCK_HEADER}), and whose deliveries its clock's advance awaits ({@link Notifier.settled}).
 */
import { sign, type KeyObject } from 'node:crypto';
import { TEST_CLOCK_HEADER } from '../../test-clock-header';

export interface NotificationFaults {
  /** Shares (0..1) of notifications dropped, sent twice, or held back by `delayMs`. */
  dropRate: number;
  duplicateRate: number;
  delayRate: number;
  delayMs: number;
}

export interface SentNotification {
  id: number;
  eventType: string;
  subscriptionId: string;
  /** The exact bytes sent (the signature covers them). */
  body: string;
  /** The headers sent; a test clock's world adds {@link TEST_CLOCK_HEADER} (not signed). */
  headers: { 'content-type': string; 'x-signature': string; [TEST_CLOCK_HEADER]?: string };
  status: 'pending' | 'delivered' | 'failed' | 'dropped';
  attempts: number;
  lastHttpStatus?: number;
  fault?: 'dropped' | 'duplicate' | 'delayed';
}

/** Real-time waits before each redelivery (the real gateway's are longer). */
export const REDELIVERY_MS = [50, 200, 800, 3_200];

export class Notifier {
  private readonly log: SentNotification[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();
  /** Deliveries waiting for their time or under way (a redelivery is scheduled before its try ends). */
  private busy = 0;
  private idleWaiters: Array<() => void> = [];
  /** HTTP delivery attempts made so far (a clock's advance reports those it awaited). */
  attemptsMade = 0;

  constructor(
    private readonly notifyUrl: string | undefined,
    private readonly key: KeyObject,
    private readonly faults: NotificationFaults,
    private readonly random: () => number = Math.random,
    /** The test clock whose world this notifier is (absent: the main world's). */
    private readonly testClockId?: string,
  ) {}

  /** The body of a notification about `object`: its JSON with `event_type` added. */
  emit(eventType: string, object: object, subscriptionId: string): void {
    const body = JSON.stringify({ ...object, event_type: eventType });
    const signature = sign('sha256', Buffer.from(body), this.key).toString('base64');
    const make = (): SentNotification => ({
      id: this.log.length + 1,
      eventType,
      subscriptionId,
      body,
      headers: {
        'content-type': 'application/json',
        'x-signature': signature,
        ...(this.testClockId !== undefined && { [TEST_CLOCK_HEADER]: this.testClockId }),
      },
      status: 'pending',
      attempts: 0,
    });
    const first = make();
    this.log.push(first);
    if (this.roll(this.faults.dropRate)) {
      first.status = 'dropped';
      first.fault = 'dropped';
      return;
    }
    const delay = this.roll(this.faults.delayRate) ? this.faults.delayMs : 0;
    if (delay > 0) first.fault = 'delayed';
    this.schedule(first, delay);
    if (this.roll(this.faults.duplicateRate)) {
      const twin = make();
      twin.fault = 'duplicate';
      this.log.push(twin);
      this.schedule(twin, delay);
    }
  }

  list(): SentNotification[] {
    return structuredClone(this.log);
  }

  /**
   * Resolves once no delivery is waiting or under way: every notification sent so far delivered,
   * failed for good, dropped, or given up because the notifier closed. Redeliveries and delayed
   * notifications are waited for (in real time), so a clock's advance answers only after them.
   */
  settled(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops every delivery: none waiting is made, one under way is aborted. */
  close(): void {
    this.closing.abort();
    for (const t of this.timers) clearTimeout(t);
    this.release(this.timers.size);
    this.timers.clear();
  }

  /** `n` deliveries are over; wakes {@link settled}'s callers when none is left. */
  private release(n: number): void {
    this.busy -= n;
    if (this.busy > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private roll(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }

  private schedule(n: SentNotification, delayMs: number): void {
    if (this.notifyUrl === undefined || this.closing.signal.aborted) return;
    this.busy += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.deliver(n).finally(() => this.release(1));
    }, delayMs);
    this.timers.add(timer);
  }

  private async deliver(n: SentNotification): Promise<void> {
    if (this.closing.signal.aborted || this.notifyUrl === undefined) return;
    n.attempts += 1;
    this.attemptsMade += 1;
    const clock = n.headers[TEST_CLOCK_HEADER];
    try {
      const res = await fetch(this.notifyUrl, {
        method: 'POST',
        headers: {
          'Content-Type': n.headers['content-type'],
          'X-Signature': n.headers['x-signature'],
          ...(clock !== undefined && { 'X-Emulator-Test-Clock': clock }),
        },
        body: n.body,
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(5_000)]),
      });
      await res.arrayBuffer();
      n.lastHttpStatus = res.status;
      if (res.ok) {
        n.status = 'delivered';
        return;
      }
    } catch {
      n.lastHttpStatus = undefined;
    }
    const wait = REDELIVERY_MS[n.attempts - 1];
    if (wait === undefined || this.closing.signal.aborted) n.status = 'failed';
    else this.schedule(n, wait);
  }
}

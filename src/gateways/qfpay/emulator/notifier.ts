/**
 * Notifications to the merchant's notify URL, sent the way QFPay sends them: JSON bodies,
 * `X-QF-SIGN` = MD5 of the raw body + app key, redelivered until the receiver answers HTTP 200
 * with the body `SUCCESS`, on QFPay's schedule (in emulator time), then given up. Every attempt
 * is logged. Fault injection may drop, duplicate or hold back a notification.
 */
import type { Logger } from 'pino';
import { signNotification } from '../signing';
import { TEST_CLOCK_HEADER } from '../../test-clock-header';
import type { FaultInjector } from './faults';
import type { DeliveryAttempt, NotificationRecord } from './model';
import type { Scheduler } from './scheduler';
import type { EmulatorStore } from './store';

/** QFPay's redelivery delays after a failed attempt: 2m, 10m, 10m, 60m, 2h, 6h, 15h. */
export const QFPAY_REDELIVERY_SCHEDULE_MS: readonly number[] = [
  2 * 60_000,
  10 * 60_000,
  10 * 60_000,
  60 * 60_000,
  2 * 3_600_000,
  6 * 3_600_000,
  15 * 3_600_000,
];

/** Options of {@link Notifier}. */
export interface NotifierOptions {
  /** Where notifications go; `undefined` or empty = notifications off. */
  notifyUrl: string | undefined;
  appKey: string;
  /** The test clock whose world sends (the emulator-only header names it); absent: the main world. */
  testClockId?: string;
  /** Delays between attempts, emulator ms. @default {@link QFPAY_REDELIVERY_SCHEDULE_MS} */
  redeliveryScheduleMs?: readonly number[];
  /** Real ms to wait for the receiver's answer before counting the attempt as failed. @default 10000 */
  deliveryTimeoutMs?: number;
  /** Finished records kept in the delivery log before the oldest are forgotten. @default 50000 */
  maxLogSize?: number;
}

/** Which notifications to list from the delivery log. */
export interface NotificationFilter {
  subscriptionId?: string;
  customerId?: string;
  tokenId?: string;
  notifyType?: string;
  status?: string;
}

/** Who a notification is about, for the delivery log. */
export interface NotificationSubject {
  subscriptionId?: string;
  customerId?: string;
  tokenId?: string;
}

const RESPONSE_BODY_LOG_LIMIT = 500;

/** Creates, delivers and logs notifications. */
export class Notifier {
  private notifyUrl: string | undefined;
  private readonly redeliveryScheduleMs: readonly number[];
  private readonly deliveryTimeoutMs: number;
  private readonly maxLogSize: number;
  private readonly closing = new AbortController();
  private suppressedCount = 0;

  constructor(
    private readonly store: EmulatorStore,
    private readonly scheduler: Scheduler,
    private readonly faults: FaultInjector,
    private readonly logger: Logger,
    private readonly options: NotifierOptions,
  ) {
    this.notifyUrl = options.notifyUrl || undefined;
    this.redeliveryScheduleMs = options.redeliveryScheduleMs ?? QFPAY_REDELIVERY_SCHEDULE_MS;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10_000;
    this.maxLogSize = options.maxLogSize ?? 50_000;
  }

  /** The notify URL in use, if any. */
  get url(): string | undefined {
    return this.notifyUrl;
  }

  /** Changes the notify URL; `undefined` or empty turns notifications off. Pending ones go to the new URL. */
  setNotifyUrl(url: string | undefined): void {
    this.notifyUrl = url || undefined;
  }

  /** How many notifications were not even created because notifications were off. */
  get suppressed(): number {
    return this.suppressedCount;
  }

  /**
   * Queues a notification for delivery at emulator time `at` (fault injection permitting).
   * @param payload the JSON body; its key order is kept, and the signature covers the exact text
   */
  emit(
    notifyType: NotificationRecord['notifyType'],
    payload: Record<string, unknown>,
    at: number,
    subject: NotificationSubject,
  ): void {
    if (this.notifyUrl === undefined || !this.faults.notificationsEnabled) {
      this.suppressedCount += 1;
      return;
    }
    const fault = this.faults.notificationFault();
    const body = JSON.stringify(payload);
    const record = this.newRecord(notifyType, body, at, subject);
    if (fault.drop) {
      record.status = 'dropped';
      record.nextAttemptAt = null;
      record.fault = 'dropped';
    } else {
      record.nextAttemptAt = at + fault.delayMs;
      if (fault.delayMs > 0) record.fault = 'delayed';
      this.scheduler.scheduleDelivery(record.id, record.nextAttemptAt);
    }
    this.store.notifications.set(record.id, record);
    if (fault.duplicate) {
      const twin = this.newRecord(notifyType, body, at, subject);
      twin.fault = 'duplicate';
      twin.duplicateOf = record.id;
      twin.nextAttemptAt = at + fault.delayMs;
      this.store.notifications.set(twin.id, twin);
      this.scheduler.scheduleDelivery(twin.id, twin.nextAttemptAt);
    }
    this.prune();
    this.store.touch();
  }

  /**
   * Makes the delivery attempt scheduled for `at`, if the notification still expects it.
   * Resolves when the receiver has answered (or the attempt failed); never rejects.
   * @returns whether an attempt was made
   */
  async attempt(notificationId: string, at: number): Promise<boolean> {
    const record = this.store.notifications.get(notificationId);
    if (record === undefined || record.status !== 'pending' || record.nextAttemptAt !== at) return false;
    // Cleared before the await so no other run can pick the same attempt.
    record.nextAttemptAt = null;
    const attempt = await this.post(record.body, at);
    if (this.closing.signal.aborted && !attempt.ok) {
      // Shutting down is not the receiver's fault: the attempt is made again after a restart.
      record.nextAttemptAt = at;
      return false;
    }
    record.attempts.push(attempt);
    if (attempt.ok) {
      record.status = 'delivered';
    } else {
      const delay = this.redeliveryScheduleMs[record.attempts.length - 1];
      if (delay === undefined) {
        record.status = 'given_up';
        this.logger.warn({ notificationId, attempts: record.attempts.length }, 'notification given up');
      } else {
        record.nextAttemptAt = at + delay;
        this.scheduler.scheduleDelivery(record.id, record.nextAttemptAt);
      }
    }
    this.store.touch();
    return true;
  }

  /** Re-adds pending deliveries to the agenda (after loading a state file). */
  reschedulePending(): void {
    for (const record of this.store.notifications.values()) {
      if (record.status === 'pending' && record.nextAttemptAt !== null) {
        this.scheduler.scheduleDelivery(record.id, record.nextAttemptAt);
      }
    }
  }

  /** The delivery log, oldest first. */
  list(filter: NotificationFilter = {}): NotificationRecord[] {
    const out: NotificationRecord[] = [];
    for (const r of this.store.notifications.values()) {
      if (filter.subscriptionId !== undefined && r.subscriptionId !== filter.subscriptionId) continue;
      if (filter.customerId !== undefined && r.customerId !== filter.customerId) continue;
      if (filter.tokenId !== undefined && r.tokenId !== filter.tokenId) continue;
      if (filter.notifyType !== undefined && r.notifyType !== filter.notifyType) continue;
      if (filter.status !== undefined && r.status !== filter.status) continue;
      out.push(r);
    }
    return out;
  }

  /** Aborts attempts in flight; they stay pending (a restart with a state file makes them again). */
  close(): void {
    this.closing.abort();
  }

  private newRecord(
    notifyType: NotificationRecord['notifyType'],
    body: string,
    at: number,
    subject: NotificationSubject,
  ): NotificationRecord {
    return {
      id: this.store.nextNotificationId(),
      notifyType,
      ...subject,
      createdAt: at,
      body,
      status: 'pending',
      nextAttemptAt: null,
      attempts: [],
    };
  }

  private async post(body: string, at: number): Promise<DeliveryAttempt> {
    const url = this.notifyUrl;
    if (url === undefined) return { at, ok: false, httpStatus: null, error: 'no notify URL configured' };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-QF-SIGN': signNotification(body, this.options.appKey),
          ...(this.options.testClockId !== undefined && { [TEST_CLOCK_HEADER]: this.options.testClockId }),
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.deliveryTimeoutMs), this.closing.signal]),
      });
      const text = await response.text();
      return {
        at,
        ok: response.status === 200 && text === 'SUCCESS',
        httpStatus: response.status,
        responseBody: text.slice(0, RESPONSE_BODY_LOG_LIMIT),
      };
    } catch (error) {
      return { at, ok: false, httpStatus: null, error: describeFetchError(error) };
    }
  }

  private prune(): void {
    const excess = this.store.notifications.size - this.maxLogSize;
    if (excess <= 0) return;
    let removed = 0;
    for (const [id, record] of this.store.notifications) {
      if (removed >= excess) break;
      if (record.status === 'pending') continue;
      this.store.notifications.delete(id);
      removed += 1;
    }
  }
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return `${error.name}: ${error.message}${detail}`;
  }
  return String(error);
}

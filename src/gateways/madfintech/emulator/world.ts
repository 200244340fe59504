/**
 * One world of the emulator: its gateway (books, billing and clock), its callback log and the
 * delivery of its callbacks, and its faults. The emulator's main world is one; each test clock is
 * another (`test-clocks.ts`), so that what lives on a clock bills, calls back and fails on its own.
 */
import { z } from 'zod';
import type { Order } from '../schemas';
import { SIGNATURE_HEADER, signCallback } from '../webhook';
import { TEST_CLOCK_HEADER } from '../../test-clock-header';
import { EmulatedGateway, orderIdsFrom, type OrderIds } from './gateway';

/** One callback, as sent (or held back), with its raw body and headers. */
export interface NotificationRecord {
  id: number;
  orderNumber: string;
  body: string;
  headers: Record<string, string>;
  status: 'pending' | 'delivered' | 'failed' | 'dropped' | 'no_url';
  attempts: number;
  fault?: 'duplicate' | 'delayed' | 'dropped';
}

export interface Faults {
  /** Share of API calls answered `failStatus` without being processed. */
  failShare: number;
  /** The next N API calls are answered `failStatus` without being processed. */
  failNext: number;
  failStatus: number;
  duplicateShare: number;
  dropShare: number;
  /** Real ms a callback is held back before its first attempt. */
  delayMs: number;
}

/** What `POST /_emulator/faults` takes: any of the {@link Faults}, the rest kept. */
export const FaultsInput = z.object({
  failShare: z.number().min(0).max(1).optional(),
  failNext: z.number().int().min(0).optional(),
  failStatus: z.number().int().min(500).max(599).optional(),
  duplicateShare: z.number().min(0).max(1).optional(),
  dropShare: z.number().min(0).max(1).optional(),
  delayMs: z.number().int().min(0).max(60_000).optional(),
});

/** Real ms before each redelivery of a callback answered non-2xx (or not at all). */
const RETRY_DELAYS_MS = [20, 60, 180, 540];

export interface WorldOptions {
  shopId: string;
  /** The HMAC key of the callbacks' `X-Signature`. */
  secret: string;
  /** Where callbacks are POSTed; none: they are logged `no_url`. */
  notifyUrl: string | undefined;
  /** The world's time at its start, epoch ms. */
  startMs: number;
  /** The test clock this world is: its callbacks carry it in {@link TEST_CLOCK_HEADER}. */
  testClockId?: string;
  /** Where its order ids come from (the gateway's own count unless given). */
  orderIds?: OrderIds;
}

export class EmulatorWorld {
  readonly gateway: EmulatedGateway;
  readonly faults: Faults = {
    failShare: 0,
    failNext: 0,
    failStatus: 503,
    duplicateShare: 0,
    dropShare: 0,
    delayMs: 0,
  };
  readonly log: NotificationRecord[] = [];
  /** HTTP delivery attempts made so far (a test clock's advance reports how many it saw). */
  deliveryAttempts = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Callbacks still to be delivered or given up: what {@link settled} waits for. */
  private readonly unsettled = new Set<NotificationRecord>();
  private settledWaiters: Array<() => void> = [];
  /** Aborts the attempts in flight when the world closes. */
  private readonly closing = new AbortController();

  constructor(readonly options: WorldOptions) {
    this.gateway = new EmulatedGateway(
      options.shopId,
      (order) => this.emit(order),
      options.startMs,
      options.orderIds ?? orderIdsFrom(),
    );
  }

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  /** Logs and sends one callback, as the faults say (dropped, duplicated, held back). */
  private emit(order: Order): void {
    const body = JSON.stringify(order);
    const clock = this.options.testClockId;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signCallback(body, this.options.secret),
      ...(clock === undefined ? {} : { [TEST_CLOCK_HEADER]: clock }),
    };
    const record = (fault?: NotificationRecord['fault']): NotificationRecord => {
      const r: NotificationRecord = {
        id: this.log.length + 1,
        orderNumber: order.orderNumber,
        body,
        headers,
        status: this.options.notifyUrl ? 'pending' : 'no_url',
        attempts: 0,
        ...(fault ? { fault } : {}),
      };
      this.log.push(r);
      if (r.status === 'pending') this.unsettled.add(r);
      return r;
    };
    if (Math.random() < this.faults.dropShare) {
      const dropped = record('dropped');
      dropped.status = 'dropped';
      this.settle(dropped);
      return;
    }
    const copies = [record(this.faults.delayMs > 0 ? 'delayed' : undefined)];
    if (Math.random() < this.faults.duplicateShare) copies.push(record('duplicate'));
    for (const r of copies) {
      if (this.faults.delayMs > 0) this.later(this.faults.delayMs, () => this.deliver(r));
      else this.deliver(r);
    }
  }

  /** One attempt; a non-2xx answer or none is retried after the next delay, then given up. */
  private deliver(record: NotificationRecord): void {
    const url = this.options.notifyUrl;
    if (!url || this.closed) return;
    record.attempts += 1;
    this.deliveryAttempts += 1;
    void fetch(url, {
      method: 'POST',
      headers: record.headers,
      body: record.body,
      signal: AbortSignal.any([AbortSignal.timeout(5_000), this.closing.signal]),
    })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.ok;
      })
      .catch(() => false)
      .then((ok) => {
        if (ok) {
          record.status = 'delivered';
          this.settle(record);
        } else if (record.attempts > RETRY_DELAYS_MS.length) {
          record.status = 'failed';
          this.settle(record);
        } else this.later(RETRY_DELAYS_MS[record.attempts - 1] ?? 1_000, () => this.deliver(record));
      });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private settle(record: NotificationRecord): void {
    this.unsettled.delete(record);
    if (this.unsettled.size > 0) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Resolves once every callback logged so far, and every one logged meanwhile, is delivered or
   * given up (held-back ones and redeliveries included), or the world is closed.
   */
  settled(): Promise<void> {
    if (this.unsettled.size === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Stops every delivery: nothing more is sent, and waiters on {@link settled} go on. */
  close(): void {
    this.closing.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const wake of waiters) wake();
  }
}

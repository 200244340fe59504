/**
 * Makes emulator time pass: processes due events (billing cycles, QFPay retries, pending
 * charges, notification deliveries) in time order, either as real time goes by (a ticker) or
 * when a test advances the clock. One run at a time: the ticker and an advance never process
 * the same event, and an advance returns only once every event and delivery due by its target
 * time has been handled.
 */
import type { Logger } from 'pino';
import { ClockError, type EmulatorClock } from './clock';
import type { EmulatorEngine } from './engine';
import type { Notifier } from './notifier';
import type { Scheduler } from './scheduler';

/** What an advance did. */
export interface AdvanceResult {
  /** Emulator time before and after, epoch ms. */
  fromMs: number;
  toMs: number;
  /** State events that changed something (charges, retries, expiries, trial ends). */
  stateEvents: number;
  /** Notification delivery attempts made. */
  deliveryAttempts: number;
}

/** How far to advance: by `ms`, or to the epoch-ms time `to`. */
export type AdvanceTarget = { ms: number } | { to: number };

/** Runs the agenda. */
export class EmulatorRuntime {
  private chain: Promise<unknown> = Promise.resolve();
  private runQueued = false;
  private ticker: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly clock: EmulatorClock,
    private readonly scheduler: Scheduler,
    private readonly engine: EmulatorEngine,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
  ) {}

  /**
   * Processes the state events due by now, synchronously, without waiting for deliveries.
   * Called before every API call so it sees the state as of its own time.
   * @returns how many events changed something
   */
  catchUp(): number {
    const now = this.clock.now();
    let handled = 0;
    for (
      let event = this.scheduler.nextStateEventDue(now);
      event;
      event = this.scheduler.nextStateEventDue(now)
    ) {
      if (this.engine.handleEvent(event)) handled += 1;
    }
    return handled;
  }

  /**
   * Moves the clock forward, processing every event due on the way in time order, as if that
   * time had passed, and awaiting the notification deliveries due by the target.
   * @throws ClockError when the target is in the past
   */
  advance(target: AdvanceTarget): Promise<AdvanceResult> {
    return this.exclusive(async () => {
      const fromMs = this.clock.now();
      const toMs = 'ms' in target ? fromMs + Math.floor(target.ms) : Math.floor(target.to);
      if (!Number.isFinite(toMs) || toMs < fromMs) {
        throw new ClockError(
          `cannot advance to ${new Date(toMs).toISOString()}: it is before now (${new Date(fromMs).toISOString()})`,
        );
      }
      const counts = await this.processUntil(toMs);
      this.clock.advanceTo(toMs);
      return { fromMs, toMs: this.clock.now(), ...counts };
    });
  }

  /** Processes whatever is due by now, soon, without waiting (several requests coalesce into one run). */
  requestRun(): void {
    if (this.runQueued || this.closed) return;
    this.runQueued = true;
    this.exclusive(async () => {
      this.runQueued = false;
      await this.processUntil(this.clock.now());
    }).catch((error: unknown) => this.logger.error({ err: error }, 'processing due events failed'));
  }

  /** Resolves once the run in progress (if any) and those queued behind it are done. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Starts processing due events as real time passes; the timer does not keep the process alive. */
  startTicker(intervalMs: number): void {
    this.stopTicker();
    this.ticker = setInterval(() => this.requestRun(), intervalMs);
    this.ticker.unref();
  }

  stopTicker(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Stops the ticker and any run in progress (after its current step); resolves when idle. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopTicker();
    await this.idle();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async processUntil(until: number): Promise<Omit<AdvanceResult, 'fromMs' | 'toMs'>> {
    let stateEvents = 0;
    let deliveryAttempts = 0;
    while (!this.closed) {
      const event = this.scheduler.nextDue(until);
      if (event === undefined) break;
      // Handlers and API calls made meanwhile (e.g. by a webhook receiver) see the event's time.
      this.clock.advanceTo(event.at);
      if (event.kind === 'deliver') {
        if (await this.notifier.attempt(event.ref, event.at)) deliveryAttempts += 1;
      } else if (this.engine.handleEvent({ ...event, kind: event.kind })) {
        stateEvents += 1;
      }
    }
    return { stateEvents, deliveryAttempts };
  }
}

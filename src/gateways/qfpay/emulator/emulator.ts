/**
 * One emulator instance: its clock, state, agenda, faults, notifier and engine, wired
 * together, with no HTTP server (see `server.ts` for that).
 */
import pino, { type Logger } from 'pino';
import { DEFAULT_QFPAY_TIME_OFFSET, parseQfpayTime } from '../time';
import { EmulatorClock } from './clock';
import { DEFAULT_EMULATOR_APP_CODE, DEFAULT_EMULATOR_APP_KEY } from './credentials';
import { EmulatorEngine } from './engine';
import { FaultInjector, type FaultConfigUpdate } from './faults';
import { Notifier } from './notifier';
import { EmulatorRuntime } from './runtime';
import { Scheduler } from './scheduler';
import { readStateFile, EmulatorStore, StateFileWriter } from './store';

/** Everything an emulator can be configured with. All optional. */
export interface EmulatorConfig {
  /** The `X-QF-APPCODE` requests must carry. @default {@link DEFAULT_EMULATOR_APP_CODE} */
  appCode?: string;
  /** The key requests are signed with and notifications are signed with. @default {@link DEFAULT_EMULATOR_APP_KEY} */
  appKey?: string;
  /** Where notifications go; absent or empty = notifications off. */
  notifyUrl?: string;
  /** JSON file that keeps the state across restarts. */
  stateFile?: string;
  /** Debounce of state file writes, real ms. @default 200 */
  stateFileDebounceMs?: number;
  /** Emulator ms per real ms. @default 1 */
  timeScale?: number;
  /** Start with a frozen clock (time moves only through the clock API). @default false */
  frozen?: boolean;
  /** Emulator time at start: epoch ms or a time string (ISO-8601, or naive in `timeOffset`). @default now */
  startTime?: number | string;
  /** QFPay's region offset for naive times and calendar billing. @default '+08:00' */
  timeOffset?: string;
  /** Initial fault configuration. */
  faults?: FaultConfigUpdate;
  /** QFPay's automatic retries, as fractions of the billing interval after a failed charge. @default [0.1, 0.2] */
  retryFractions?: readonly number[];
  /** Delays between notification delivery attempts, emulator ms. @default QFPay's 2m, 10m, 10m, 60m, 2h, 6h, 15h */
  redeliveryScheduleMs?: readonly number[];
  /** Real ms to wait for the notification receiver. @default 10000 */
  deliveryTimeoutMs?: number;
  /** QFPay store id in rows and notifications. @default 1000001 */
  userid?: number;
  /** Where logs go. @default a silent logger */
  logger?: Logger;
  /** The real-time source (tests may inject one). @default Date.now */
  realNow?: () => number;
  /**
   * The test clock this world is (`test-clocks.ts`): its notifications name it in the
   * emulator-only `X-Emulator-Test-Clock` header, so that a receiver starting a subscription's
   * workflow from one starts it on the clock. Absent: the main world.
   */
  testClockId?: string;
}

/** Thrown for a configuration the emulator cannot start with. */
export class EmulatorConfigError extends Error {
  readonly type = 'emulator_config_error';
}

/** A wired emulator without an HTTP server. */
export class QfpayEmulator {
  readonly appCode: string;
  readonly appKey: string;
  readonly timeOffset: string;
  /** The configuration it was made with (a test clock's world is made from it). */
  readonly config: EmulatorConfig;
  readonly logger: Logger;
  readonly clock: EmulatorClock;
  readonly store = new EmulatorStore();
  readonly scheduler = new Scheduler();
  readonly faults: FaultInjector;
  readonly notifier: Notifier;
  readonly engine: EmulatorEngine;
  readonly runtime: EmulatorRuntime;
  private readonly stateWriter: StateFileWriter | undefined;
  private readonly resetHooks: Array<() => void> = [];

  /**
   * @throws EmulatorConfigError for a bad start time
   * @throws StateFileError for a state file that exists but cannot be read
   */
  constructor(config: EmulatorConfig = {}) {
    this.config = config;
    this.appCode = config.appCode || DEFAULT_EMULATOR_APP_CODE;
    this.appKey = config.appKey || DEFAULT_EMULATOR_APP_KEY;
    this.timeOffset = config.timeOffset ?? DEFAULT_QFPAY_TIME_OFFSET;
    this.logger = config.logger ?? pino({ level: 'silent' });
    const saved = config.stateFile ? readStateFile(config.stateFile) : undefined;
    const realNow = config.realNow ?? Date.now;
    let startMs = startTimeMs(config.startTime, this.timeOffset);
    if (saved !== undefined) {
      const ran = saved.clock.frozen
        ? 0
        : Math.max(0, realNow() - saved.savedAtRealMs) * saved.clock.timeScale;
      startMs = saved.clock.nowMs + Math.floor(ran);
    }
    this.clock = new EmulatorClock({
      startMs,
      timeScale: config.timeScale ?? saved?.clock.timeScale ?? 1,
      frozen: config.frozen ?? saved?.clock.frozen ?? false,
      realNow,
    });
    this.faults = new FaultInjector(config.faults);
    this.notifier = new Notifier(this.store, this.scheduler, this.faults, this.logger, {
      notifyUrl: config.notifyUrl,
      appKey: this.appKey,
      ...(config.testClockId !== undefined && { testClockId: config.testClockId }),
      ...(config.redeliveryScheduleMs && { redeliveryScheduleMs: config.redeliveryScheduleMs }),
      ...(config.deliveryTimeoutMs !== undefined && { deliveryTimeoutMs: config.deliveryTimeoutMs }),
    });
    this.engine = new EmulatorEngine(this.store, this.clock, this.scheduler, this.notifier, this.logger, {
      timeOffset: this.timeOffset,
      ...(config.retryFractions && { retryFractions: config.retryFractions }),
      ...(config.userid !== undefined && { userid: config.userid }),
    });
    this.runtime = new EmulatorRuntime(this.clock, this.scheduler, this.engine, this.notifier, this.logger);
    if (saved !== undefined) {
      this.store.load(saved);
      this.engine.rescheduleAll();
      this.notifier.reschedulePending();
      this.logger.info(
        { stateFile: config.stateFile, subscriptions: this.store.subscriptions.size },
        'emulator state restored',
      );
    }
    if (config.stateFile) {
      const file = config.stateFile;
      this.stateWriter = new StateFileWriter(
        file,
        () => this.store.toJSON(this.clock.snapshot(), realNow()),
        config.stateFileDebounceMs ?? 200,
        (error) => this.logger.error({ err: error, stateFile: file }, 'writing the state file failed'),
      );
      this.store.onChange(() => this.stateWriter?.schedule());
    }
  }

  /**
   * Forgets every customer, product, token, subscription and notification, clears the faults
   * and, when asked, puts the clock at a new time (backwards too, since nothing is left to replay).
   */
  reset(clock: { nowMs?: number; frozen?: boolean } = {}): void {
    this.scheduler.clear();
    this.store.clear();
    this.faults.reset();
    if (clock.nowMs !== undefined || clock.frozen !== undefined) {
      this.clock.reset(clock.nowMs ?? this.clock.now(), clock.frozen ?? this.clock.frozen);
    }
    this.store.touch();
    for (const hook of this.resetHooks) hook();
  }

  /** Runs `hook` after every {@link reset} (the test clocks go with the rest of the state). */
  onReset(hook: () => void): void {
    this.resetHooks.push(hook);
  }

  /** Records a change that is not in the store (the clock), so the state file keeps it. */
  touch(): void {
    this.store.touch();
  }

  /** Writes the state file now if anything changed (no-op without a state file). */
  async flushState(): Promise<void> {
    await this.stateWriter?.flush();
  }

  /** Stops processing and writes the state file one last time. */
  async close(): Promise<void> {
    this.notifier.close();
    await this.runtime.close();
    await this.flushState();
  }
}

function startTimeMs(startTime: number | string | undefined, offset: string): number | undefined {
  if (startTime === undefined || typeof startTime === 'number') return startTime;
  const ms = parseQfpayTime(startTime, offset);
  if (ms === undefined) throw new EmulatorConfigError(`startTime "${startTime}" is not a time`);
  return ms;
}

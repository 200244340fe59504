/**
 * Test clocks at the emulator: each clock is a world of its own (its own frozen clock, customers,
 * tokens, products, subscriptions, agenda and notifications), beside the emulator's main world.
 * A request names its clock in the emulator-only header {@link TEST_CLOCK_HEADER}; a request
 * without it is the main world's, exactly as before clocks existed. So two clocks advanced at the
 * same time never meet, and a clock's advance bills only what lives on it.
 *
 * QFPay's own API has no test clocks: the header is the emulator's addition, which the engine
 * sends only for a subscription it runs on a clock.
 */
import { QfpayEmulator } from './emulator';
import { EmulatorRequestError } from './errors';
import type { AdvanceResult } from './runtime';

import { TEST_CLOCK_HEADER, TEST_CLOCK_ID } from '../../test-clock-header';

/** The emulator-only header that names the test clock a QFPay or control request is for. */
export { TEST_CLOCK_HEADER, TEST_CLOCK_ID };

/** A clock as the control API shows it. */
export interface TestClockView {
  id: string;
  /** The clock's time, epoch ms. */
  nowMs: number;
  /** When its world has something scheduled next (a billing, a retry, a delivery), or null. */
  nextDueMs: number | null;
}

/** The test clocks of one emulator, each a {@link QfpayEmulator} of its own. */
export class TestClockWorlds {
  private readonly worlds = new Map<string, QfpayEmulator>();

  constructor(
    private readonly main: QfpayEmulator,
    private readonly tickIntervalMs = 250,
  ) {
    // A reset of the emulator clears everything, its clocks too.
    main.onReset(() => {
      this.close().catch((error: unknown) =>
        main.logger.error({ err: error }, 'closing the test clocks failed'),
      );
    });
  }

  /**
   * Makes a clock frozen at `frozenMs`, with the main world's credentials, QFPay settings and
   * notify URL, and nothing else: no state file (a clock is for a test), no faults.
   * @throws EmulatorRequestError 400 for a malformed id, 409 when the clock exists
   */
  create(id: string, frozenMs: number): TestClockView {
    if (!TEST_CLOCK_ID.test(id))
      throw new EmulatorRequestError(
        400,
        'invalid_request',
        `test clock id ${JSON.stringify(id)} is malformed: 1 to 64 letters, digits, _ or -`,
      );
    if (this.worlds.has(id))
      throw new EmulatorRequestError(409, 'test_clock_exists', `test clock ${id} exists`);
    const { stateFile: _file, faults: _faults, timeScale: _scale, ...settings } = this.main.config;
    const world = new QfpayEmulator({
      ...settings,
      notifyUrl: this.main.notifier.url,
      testClockId: id,
      frozen: true,
      startTime: frozenMs,
    });
    world.runtime.startTicker(this.tickIntervalMs);
    this.worlds.set(id, world);
    return this.view(id);
  }

  /**
   * The world a request is for: the clock's, or the main one when it names none.
   * @throws EmulatorRequestError 404 for a clock that does not exist
   */
  world(id: string | undefined): QfpayEmulator {
    if (id === undefined || id === '') return this.main;
    const world = this.worlds.get(id);
    if (!world) throw new EmulatorRequestError(404, 'test_clock_not_found', `no test clock ${id}`);
    return world;
  }

  /**
   * The world that holds the record a QFPay call names (its `subscription_id`, `customer_id`,
   * `token_id` or `product_id`, in that order), when the call names no clock: the main world if
   * it holds it or nothing is named, else the clock that does. So the engine reaches a record on
   * a clock by its id alone, as it reaches any other; only what makes a record with no id to go
   * by (a customer, a product) needs the clock's header.
   */
  worldHolding(params: URLSearchParams): QfpayEmulator {
    const named: Array<[string, (w: QfpayEmulator, id: string) => boolean]> = [
      ['subscription_id', (w, id) => w.store.subscriptions.has(id)],
      ['customer_id', (w, id) => w.store.customers.has(id)],
      ['token_id', (w, id) => w.store.tokens.has(id)],
      ['product_id', (w, id) => w.store.products.has(id)],
    ];
    for (const [param, holds] of named) {
      const id = params.get(param);
      if (!id) continue;
      if (holds(this.main, id)) return this.main;
      for (const world of this.worlds.values()) if (holds(world, id)) return world;
      return this.main;
    }
    return this.main;
  }

  /** @throws EmulatorRequestError 404 for a clock that does not exist */
  view(id: string): TestClockView {
    const world = this.world(id);
    const next = world.scheduler.nextAt();
    return { id, nowMs: world.clock.now(), nextDueMs: next ?? null };
  }

  list(): TestClockView[] {
    return [...this.worlds.keys()].sort().map((id) => this.view(id));
  }

  /**
   * Moves a clock to `toMs`, processing in time order everything due on it on the way and
   * awaiting the deliveries of its notifications, as the main clock's advance does.
   * @throws EmulatorRequestError 404 for a clock that does not exist
   * @throws ClockError for a time before the clock's now
   */
  async advance(id: string, toMs: number): Promise<AdvanceResult> {
    const world = this.world(id);
    return world.runtime.advance({ to: toMs });
  }

  /**
   * Removes a clock and everything on it (its notifications are not delivered any more).
   * @throws EmulatorRequestError 404 for a clock that does not exist
   */
  async remove(id: string): Promise<void> {
    const world = this.world(id);
    this.worlds.delete(id);
    await world.close();
  }

  /** Sends every clock's notifications to `url` from now on, as the main world's. */
  setNotifyUrl(url: string | undefined): void {
    for (const world of this.worlds.values()) world.notifier.setNotifyUrl(url);
  }

  /** Closes every clock. */
  async close(): Promise<void> {
    const worlds = [...this.worlds.values()];
    this.worlds.clear();
    await Promise.all(worlds.map((w) => w.close()));
  }
}

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
import { ClockWorlds, testClockRefusals, type EmulatorClockView } from '../../emulator-test-clocks';

import { TEST_CLOCK_HEADER, TEST_CLOCK_ID } from '../../test-clock-header';

/** The emulator-only header that names the test clock a QFPay or control request is for. */
export { TEST_CLOCK_HEADER, TEST_CLOCK_ID };

/** The test clocks of one emulator, each a {@link QfpayEmulator} of its own. */
export class TestClockWorlds {
  private readonly clocks: ClockWorlds<QfpayEmulator>;

  constructor(
    private readonly main: QfpayEmulator,
    private readonly tickIntervalMs = 250,
  ) {
    this.clocks = new ClockWorlds(
      main,
      testClockRefusals(
        (status, code, message) => new EmulatorRequestError(status, code, message),
        'invalid_request',
      ),
    );
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
  create(id: string, frozenMs: number): EmulatorClockView {
    const { stateFile: _file, faults: _faults, timeScale: _scale, ...settings } = this.main.config;
    const world = this.clocks.add(
      id,
      () =>
        new QfpayEmulator({
          ...settings,
          notifyUrl: this.main.notifier.url,
          testClockId: id,
          frozen: true,
          startTime: frozenMs,
        }),
    );
    world.runtime.startTicker(this.tickIntervalMs);
    return this.view(id);
  }

  /**
   * The world a request is for: the clock's, or the main one when it names none.
   * @throws EmulatorRequestError 404 for a clock that does not exist
   */
  world(id: string | undefined): QfpayEmulator {
    return this.clocks.world(id);
  }

  /**
   * The world that holds the record a QFPay call names (its `subscription_id`, `customer_id`,
   * `token_id` or `product_id`, the first of them present), when the call names no clock: the
   * main world if it holds it or nothing is named, else the clock that does. So the engine reaches
   * a record on a clock by its id alone, as it reaches any other; only what makes a record with no
   * id to go by (a customer, a product) needs the clock's header.
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
      if (id) return this.clocks.holding((w) => holds(w, id));
    }
    return this.main;
  }

  /** @throws EmulatorRequestError 404 for a clock that does not exist */
  view(id: string): EmulatorClockView {
    const world = this.clocks.clock(id);
    const next = world.scheduler.nextAt();
    return { id, nowMs: world.clock.now(), nextDueMs: next ?? null };
  }

  list(): EmulatorClockView[] {
    return this.clocks.ids().map((id) => this.view(id));
  }

  /**
   * Moves a clock to `toMs`, processing in time order everything due on it on the way and
   * awaiting the deliveries of its notifications, as the main clock's advance does.
   * @throws EmulatorRequestError 404 for a clock that does not exist
   * @throws ClockError for a time before the clock's now
   */
  async advance(id: string, toMs: number): Promise<AdvanceResult> {
    return this.clocks.clock(id).runtime.advance({ to: toMs });
  }

  /**
   * Removes a clock and everything on it (its notifications are not delivered any more).
   * @throws EmulatorRequestError 404 for a clock that does not exist
   */
  async remove(id: string): Promise<void> {
    await this.clocks.take(id).close();
  }

  /** Sends every clock's notifications to `url` from now on, as the main world's. */
  setNotifyUrl(url: string | undefined): void {
    for (const world of this.clocks.worlds()) world.notifier.setNotifyUrl(url);
  }

  /** Closes every clock. */
  async close(): Promise<void> {
    await Promise.all(this.clocks.takeAll().map((w) => w.close()));
  }
}

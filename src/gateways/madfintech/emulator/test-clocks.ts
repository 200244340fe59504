/**
 * Test clocks at the MadFintech emulator: each clock is a world of its own ({@link EmulatorWorld}:
 * its own frozen clock, books, callback log and faults), beside the emulator's main world. A
 * request names its clock in the emulator-only header {@link TEST_CLOCK_HEADER}; one without it
 * reaches the world holding the record it names, else the main world, exactly as before clocks
 * existed. So two clocks advanced at the same time never meet, and a clock's advance bills only
 * what lives on it. MadFintech's own API has no test clocks: the header is the emulator's.
 */
import { TEST_CLOCK_HEADER, TEST_CLOCK_ID } from '../../test-clock-header';
import { EmulatorWorld } from './world';
import { orderIdsFrom } from './gateway';
import {
  ClockWorlds,
  testClockRefusals,
  type EmulatorClockAdvance,
  type EmulatorClockView,
} from '../../emulator-test-clocks';

export { TEST_CLOCK_HEADER, TEST_CLOCK_ID };

/** A refusal of a test clock call, answered with its status in the emulator's error style. */
export class TestClockError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TestClockError';
  }
}

/** The record an API call or the hosted page names, by which a call without the header is routed. */
export type NamedRecord = { orderNumber: string } | { recurringId: string };

/**
 * The first order id of the clocks' worlds, which share one count: far from the main world's (from
 * 54 000), so that a recurring id (`sub_<order id>`) names one record in all worlds.
 */
const CLOCK_ORDER_IDS_FROM = 10_000_000;

const view = (id: string, world: EmulatorWorld): EmulatorClockView => ({
  id,
  nowMs: world.gateway.now,
  nextDueMs: world.gateway.nextDueAt() ?? null,
});

/** The test clocks of one emulator, each an {@link EmulatorWorld} of its own. */
export class TestClockWorlds {
  private readonly clocks: ClockWorlds<EmulatorWorld>;
  private readonly orderIds = orderIdsFrom(CLOCK_ORDER_IDS_FROM);

  constructor(private readonly main: EmulatorWorld) {
    this.clocks = new ClockWorlds(
      main,
      testClockRefusals(
        (status, code, message) => new TestClockError(status, code, message),
        'validation_error',
      ),
    );
  }

  /**
   * Makes a clock frozen at `frozenMs`, with the main world's shop, callback secret and notify
   * URL, and nothing else: no orders, no faults, every card approving.
   * @throws TestClockError 400 for a malformed id, 409 when the clock exists
   */
  create(id: string, frozenMs: number): EmulatorClockView {
    const { shopId, secret, notifyUrl } = this.main.options;
    const world = this.clocks.add(
      id,
      () =>
        new EmulatorWorld({
          shopId,
          secret,
          notifyUrl,
          startMs: frozenMs,
          testClockId: id,
          orderIds: this.orderIds,
        }),
    );
    return view(id, world);
  }

  /**
   * The world a request is for: the clock's its header names; without one, the world holding the
   * record it names, the main world first (so the engine reaches a record on a clock by its id
   * alone; only the creation of an order needs the header), the main world when none holds it or
   * nothing is named.
   * @throws TestClockError 404 for a clock that does not exist
   */
  route(header: string | undefined, named: NamedRecord | undefined): EmulatorWorld {
    if (header !== undefined && header !== '') return this.clocks.clock(header);
    return this.clocks.holding(
      named === undefined
        ? undefined
        : (w) =>
            'orderNumber' in named
              ? w.gateway.has(named.orderNumber)
              : w.gateway.hasRecurring(named.recurringId),
    );
  }

  /** @throws TestClockError 404 for a clock that does not exist */
  view(id: string): EmulatorClockView {
    return view(id, this.clocks.clock(id));
  }

  list(): EmulatorClockView[] {
    return this.clocks.ids().map((id) => this.view(id));
  }

  /**
   * Moves a clock to `toMs`, running in time order everything due on it on the way, then waits
   * until every callback its world has pending is delivered or given up (redeliveries and held-back
   * ones included), so that what the advance caused has reached the notify URL when it answers.
   * @throws TestClockError 404 for a clock that does not exist, 400 for a time before its now
   */
  async advance(id: string, toMs: number): Promise<EmulatorClockAdvance> {
    const world = this.clocks.clock(id);
    const fromMs = world.gateway.now;
    if (toMs < fromMs)
      throw new TestClockError(
        400,
        'validation_error',
        `to ${new Date(toMs).toISOString()} is before the clock's now ${new Date(fromMs).toISOString()}`,
      );
    const attemptsBefore = world.deliveryAttempts;
    const stateEvents = world.gateway.advance(toMs - fromMs);
    await world.settled();
    return { fromMs, stateEvents, deliveryAttempts: world.deliveryAttempts - attemptsBefore };
  }

  /**
   * Removes a clock and everything on it: its pending callbacks are not delivered any more.
   * @throws TestClockError 404 for a clock that does not exist
   */
  remove(id: string): void {
    this.clocks.take(id).close();
  }

  /** Closes every clock's world (its timers cleared, nothing more delivered). */
  close(): void {
    for (const world of this.clocks.takeAll()) world.close();
  }
}

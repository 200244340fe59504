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

/** A clock as the control API shows it. */
export interface TestClockView {
  id: string;
  /** The clock's time, epoch ms. */
  nowMs: number;
  /** The earliest time anything on it falls due (a charge, a retry, an expiry), or null. */
  nextDueMs: number | null;
}

/** What one advance did. */
export interface TestClockAdvance extends TestClockView {
  /** The clock's time before, epoch ms. */
  fromMs: number;
  /** Charges, retries and expiries run. */
  stateEvents: number;
  /** HTTP delivery attempts of callbacks made while the advance ran. */
  deliveryAttempts: number;
}

/** The record an API call or the hosted page names, by which a call without the header is routed. */
export type NamedRecord = { orderNumber: string } | { recurringId: string };

/**
 * The first order id of the clocks' worlds, which share one count: far from the main world's (from
 * 54 000), so that a recurring id (`sub_<order id>`) names one record in all worlds.
 */
const CLOCK_ORDER_IDS_FROM = 10_000_000;

const view = (id: string, world: EmulatorWorld): TestClockView => ({
  id,
  nowMs: world.gateway.now,
  nextDueMs: world.gateway.nextDueAt() ?? null,
});

/** The test clocks of one emulator, each an {@link EmulatorWorld} of its own. */
export class TestClockWorlds {
  private readonly worlds = new Map<string, EmulatorWorld>();
  private readonly orderIds = orderIdsFrom(CLOCK_ORDER_IDS_FROM);

  constructor(private readonly main: EmulatorWorld) {}

  /**
   * Makes a clock frozen at `frozenMs`, with the main world's shop, callback secret and notify
   * URL, and nothing else: no orders, no faults, every card approving.
   * @throws TestClockError 400 for a malformed id, 409 when the clock exists
   */
  create(id: string, frozenMs: number): TestClockView {
    if (!TEST_CLOCK_ID.test(id))
      throw new TestClockError(
        400,
        'validation_error',
        `test clock id ${JSON.stringify(id)} is malformed: 1 to 64 letters, digits, _ or -`,
      );
    if (this.worlds.has(id)) throw new TestClockError(409, 'test_clock_exists', `test clock ${id} exists`);
    const { shopId, secret, notifyUrl } = this.main.options;
    const world = new EmulatorWorld({
      shopId,
      secret,
      notifyUrl,
      startMs: frozenMs,
      testClockId: id,
      orderIds: this.orderIds,
    });
    this.worlds.set(id, world);
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
    if (header !== undefined && header !== '') return this.world(header);
    if (named === undefined) return this.main;
    const holds = (w: EmulatorWorld): boolean =>
      'orderNumber' in named ? w.gateway.has(named.orderNumber) : w.gateway.hasRecurring(named.recurringId);
    if (holds(this.main)) return this.main;
    for (const world of this.worlds.values()) if (holds(world)) return world;
    return this.main;
  }

  /** @throws TestClockError 404 for a clock that does not exist */
  view(id: string): TestClockView {
    return view(id, this.world(id));
  }

  list(): TestClockView[] {
    return [...this.worlds.keys()].sort().map((id) => this.view(id));
  }

  /**
   * Moves a clock to `toMs`, running in time order everything due on it on the way, then waits
   * until every callback its world has pending is delivered or given up (redeliveries and held-back
   * ones included), so that what the advance caused has reached the notify URL when it answers.
   * @throws TestClockError 404 for a clock that does not exist, 400 for a time before its now
   */
  async advance(id: string, toMs: number): Promise<TestClockAdvance> {
    const world = this.world(id);
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
    return {
      ...view(id, world),
      fromMs,
      stateEvents,
      deliveryAttempts: world.deliveryAttempts - attemptsBefore,
    };
  }

  /**
   * Removes a clock and everything on it: its pending callbacks are not delivered any more.
   * @throws TestClockError 404 for a clock that does not exist
   */
  remove(id: string): void {
    const world = this.world(id);
    this.worlds.delete(id);
    world.close();
  }

  /** Closes every clock's world (its timers cleared, nothing more delivered). */
  close(): void {
    for (const world of this.worlds.values()) world.close();
    this.worlds.clear();
  }

  /** @throws TestClockError 404 for a clock that does not exist */
  private world(id: string): EmulatorWorld {
    const world = this.worlds.get(id);
    if (!world) throw new TestClockError(404, 'test_clock_not_found', `no test clock ${id}`);
    return world;
  }
}

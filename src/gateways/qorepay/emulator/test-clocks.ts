/**
 * Test clocks at the QorePay emulator, as at QFPay's: each clock is a world of its own (its own
 * frozen clock, billing, card approvals, faults and notification log; see `world.ts`), beside the
 * main world. A request names its clock in the emulator-only header {@link TEST_CLOCK_HEADER}; an
 * API call without it reaches the world that holds the record it names, else the main world. So
 * two clocks advanced at the same time never meet, and a clock's advance bills only what lives on
 * it. QorePay's own API has no test clocks: the header is the emulator's addition.
 */
import type { Router } from 'express';
import { z } from 'zod';
import { TEST_CLOCK_HEADER, TEST_CLOCK_ID } from '../../test-clock-header';
import { BillingError } from './billing';
import type { World } from './world';
import {
  ClockWorlds,
  testClockRoutes,
  type EmulatorClockAdvance,
  type EmulatorClockView,
} from '../../emulator-test-clocks';

export { TEST_CLOCK_HEADER, TEST_CLOCK_ID };

/** A test clock refused as a whole (unknown, or taken): answered `{__all__: [{code, message}]}`. */
export class TestClockError extends Error {
  constructor(
    readonly status: 404 | 409,
    readonly code: 'not_found' | 'test_clock_exists',
    message: string,
  ) {
    super(message);
  }
}

/** The records an API call names by id: a template (its path, or `/purchases`' query) or a purchase. */
export interface RecordsNamed {
  templateId?: string;
  purchaseId?: string;
}

/**
 * What an API call (path relative to `/api/v1`) names by id: `/billing_templates/:id…`,
 * `/purchases/:id`, or `/purchases?billing_template_id=`.
 */
export function recordsNamed(path: string, query: Record<string, unknown>): RecordsNamed {
  const [, collection, raw] = path.split('/');
  let id: string | undefined;
  try {
    id = raw ? decodeURIComponent(raw) : undefined;
  } catch {
    id = raw;
  }
  if (collection === 'billing_templates' && id) return { templateId: id };
  if (collection === 'purchases' && id) return { purchaseId: id };
  const templateId = query.billing_template_id;
  if (collection === 'purchases' && typeof templateId === 'string' && templateId !== '')
    return { templateId };
  return {};
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The test clocks of one emulator, each a {@link World} of its own, beside the main one. */
export class TestClockWorlds {
  private readonly clocks: ClockWorlds<World>;

  constructor(
    readonly main: World,
    /** Makes a clock's world, frozen at `frozenMs` (the main world's key and notify URL). */
    private readonly make: (id: string, frozenMs: number) => World,
  ) {
    this.clocks = new ClockWorlds(main, {
      malformed: () => new BillingError(400, 'id', MALFORMED_ID),
      exists: (id) => new TestClockError(409, 'test_clock_exists', `Test clock ${id} exists`),
      notFound: (id) => new TestClockError(404, 'not_found', `No such test clock: ${id}`),
    });
  }

  /**
   * Makes a clock frozen at `frozenMs`, with nothing on it and no faults.
   * @throws BillingError 400 for a malformed id
   * @throws TestClockError 409 when the clock exists
   */
  create(id: string, frozenMs: number): EmulatorClockView {
    this.clocks.add(id, () => this.make(id, frozenMs));
    return this.view(id);
  }

  /**
   * The world a request naming clock `id` is for: the clock's, or the main one when it names none.
   * @throws TestClockError 404 for a clock that does not exist
   */
  world(id: string | undefined): World {
    return this.clocks.world(id);
  }

  /**
   * The world that holds the record an API call names, when the call names no clock: the main
   * world if it holds it or nothing is named, else the clock that does. So the engine reaches a
   * record on a clock by its id alone; only what makes a template needs the clock's header.
   */
  worldHolding(named: RecordsNamed): World {
    const { templateId, purchaseId } = named;
    return this.clocks.holding(
      templateId !== undefined
        ? (w) => w.billing.templates.has(templateId)
        : purchaseId !== undefined
          ? (w) => w.billing.purchases.has(purchaseId)
          : undefined,
    );
  }

  /** @throws TestClockError 404 for a clock that does not exist */
  view(id: string): EmulatorClockView {
    const { billing } = this.world(id);
    return { id, nowMs: billing.now(), nextDueMs: billing.nextDueAt() };
  }

  /** Every clock, by id. */
  list(): EmulatorClockView[] {
    return this.clocks.ids().map((id) => this.view(id));
  }

  /**
   * Moves a clock to `toMs`, processing in time order everything due on it on the way, then
   * awaits the delivery of every notification its world has pending (redeliveries and delayed
   * ones too, in real time), so that what the advance caused has reached the notify URL when it
   * answers. An advance to the clock's now only awaits the deliveries.
   * @throws TestClockError 404 for a clock that does not exist
   * @throws BillingError 400 for a time before the clock's now
   */
  async advance(id: string, toMs: number): Promise<EmulatorClockAdvance> {
    const { billing, notifier } = this.world(id);
    const fromMs = billing.now();
    if (toMs < fromMs)
      throw new BillingError(400, 'to', `${iso(toMs)} is before the clock's now (${iso(fromMs)})`);
    const attempts = notifier.attemptsMade;
    const stateEvents = billing.advanceTo(toMs);
    await notifier.settled();
    return { fromMs, stateEvents, deliveryAttempts: notifier.attemptsMade - attempts };
  }

  /**
   * Removes a clock and everything on it: its pending notifications are never delivered.
   * @throws TestClockError 404 for a clock that does not exist
   */
  remove(id: string): void {
    this.clocks.take(id).notifier.close();
  }

  /** Closes every clock's notifier (the emulator is closing). */
  close(): void {
    for (const world of this.clocks.takeAll()) world.notifier.close();
  }
}

const MALFORMED_ID = 'Test clock id is malformed: 1 to 64 letters, digits, _ or -';
const isoTime = z.iso.datetime({ offset: true, error: 'Not an ISO-8601 time' });
const createInput = z
  .object({ id: z.string().regex(TEST_CLOCK_ID, MALFORMED_ID), frozen_time: isoTime })
  .strict();
const advanceInput = z.object({ to: isoTime }).strict();

/**
 * The test clocks' routes (mounted at `/_emulator/test_clocks`, no authentication); a body zod
 * refuses goes to the emulator's error handler as a 400.
 */
export function testClockRouter(worlds: TestClockWorlds): Router {
  return testClockRoutes(worlds, {
    create: (body) => {
      const input = createInput.parse(body);
      return { id: input.id, frozenMs: Date.parse(input.frozen_time) };
    },
    advance: (body) => ({ toMs: Date.parse(advanceInput.parse(body).to) }),
  });
}

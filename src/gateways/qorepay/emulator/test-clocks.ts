/**
 * Test clocks at the QorePay emulator, as at QFPay's: each clock is a world of its own (its own
 * frozen clock, billing, card approvals, faults and notification log; see `world.ts`), beside the
 * main world. A request names its clock in the emulator-only header {@link TEST_CLOCK_HEADER}; an
 * API call without it reaches the world that holds the record it names, else the main world. So
 * two clocks advanced at the same time never meet, and a clock's advance bills only what lives on
 * it. QorePay's own API has no test clocks: the header is the emulator's addition.
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import { TEST_CLOCK_HEADER, TEST_CLOCK_ID } from '../../test-clock-header';
import { BillingError } from './billing';
import type { World } from './world';

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

/** A clock as the control API shows it. */
export interface TestClockView {
  id: string;
  /** The clock's time, epoch ms. */
  nowMs: number;
  /** When its world has anything scheduled next (a billing, a retry, a due date), or null. */
  nextDueMs: number | null;
}

/** What a clock's advance did. */
export interface TestClockAdvance {
  /** The clock's time before. */
  fromMs: number;
  /** Billing events processed: billing dates reached, retries, due dates. */
  stateEvents: number;
  /** HTTP delivery attempts of the world's notifications made while the advance ran. */
  deliveryAttempts: number;
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
  private readonly worlds = new Map<string, World>();

  constructor(
    readonly main: World,
    /** Makes a clock's world, frozen at `frozenMs` (the main world's key and notify URL). */
    private readonly make: (id: string, frozenMs: number) => World,
  ) {}

  /**
   * Makes a clock frozen at `frozenMs`, with nothing on it and no faults.
   * @throws BillingError 400 for a malformed id
   * @throws TestClockError 409 when the clock exists
   */
  create(id: string, frozenMs: number): TestClockView {
    if (!TEST_CLOCK_ID.test(id)) throw new BillingError(400, 'id', MALFORMED_ID);
    if (this.worlds.has(id)) throw new TestClockError(409, 'test_clock_exists', `Test clock ${id} exists`);
    this.worlds.set(id, this.make(id, frozenMs));
    return this.view(id);
  }

  /**
   * The world a request naming clock `id` is for: the clock's, or the main one when it names none.
   * @throws TestClockError 404 for a clock that does not exist
   */
  world(id: string | undefined): World {
    if (id === undefined || id === '') return this.main;
    const world = this.worlds.get(id);
    if (!world) throw new TestClockError(404, 'not_found', `No such test clock: ${id}`);
    return world;
  }

  /**
   * The world that holds the record an API call names, when the call names no clock: the main
   * world if it holds it or nothing is named, else the clock that does. So the engine reaches a
   * record on a clock by its id alone; only what makes a template needs the clock's header.
   */
  worldHolding(named: RecordsNamed): World {
    const { templateId, purchaseId } = named;
    const holds =
      templateId !== undefined
        ? (w: World) => w.billing.templates.has(templateId)
        : purchaseId !== undefined
          ? (w: World) => w.billing.purchases.has(purchaseId)
          : undefined;
    if (holds === undefined || holds(this.main)) return this.main;
    for (const world of this.worlds.values()) if (holds(world)) return world;
    return this.main;
  }

  /** @throws TestClockError 404 for a clock that does not exist */
  view(id: string): TestClockView {
    const { billing } = this.world(id);
    return { id, nowMs: billing.now(), nextDueMs: billing.nextDueAt() };
  }

  /** Every clock, by id. */
  list(): TestClockView[] {
    return [...this.worlds.keys()].sort().map((id) => this.view(id));
  }

  /**
   * Moves a clock to `toMs`, processing in time order everything due on it on the way, then
   * awaits the delivery of every notification its world has pending (redeliveries and delayed
   * ones too, in real time), so that what the advance caused has reached the notify URL when it
   * answers. An advance to the clock's now only awaits the deliveries.
   * @throws TestClockError 404 for a clock that does not exist
   * @throws BillingError 400 for a time before the clock's now
   */
  async advance(id: string, toMs: number): Promise<TestClockAdvance> {
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
    const world = this.world(id);
    this.worlds.delete(id);
    world.notifier.close();
  }

  /** Closes every clock's notifier (the emulator is closing). */
  close(): void {
    for (const world of this.worlds.values()) world.notifier.close();
    this.worlds.clear();
  }
}

const MALFORMED_ID = 'Test clock id is malformed: 1 to 64 letters, digits, _ or -';
const isoTime = z.iso.datetime({ offset: true, error: 'Not an ISO-8601 time' });
const createInput = z
  .object({ id: z.string().regex(TEST_CLOCK_ID, MALFORMED_ID), frozen_time: isoTime })
  .strict();
const advanceInput = z.object({ to: isoTime }).strict();

/** A clock as the control API answers it. */
function clockJson(view: TestClockView) {
  return {
    id: view.id,
    now: iso(view.nowMs),
    nowMs: view.nowMs,
    next_due: iso(view.nextDueMs),
    nextDueMs: view.nextDueMs,
  };
}

/**
 * The test clocks' routes (mounted at `/_emulator/test_clocks`, no authentication): list, make
 * one frozen at a time, read one (its time and when anything on it is due next), advance it to a
 * time (everything due on the way in time order, its notifications delivered before the answer),
 * and remove it. What lives on a clock is made through the API and the control API with the
 * clock's header. Errors go to the emulator's error handler.
 */
export function testClockRouter(worlds: TestClockWorlds): Router {
  const router = express.Router();
  router.get('/', (_req, res) => void res.json({ data: worlds.list().map(clockJson) }));
  router.post('/', (req, res) => {
    const body = createInput.parse(req.body ?? {});
    res.status(201).json(clockJson(worlds.create(body.id, Date.parse(body.frozen_time))));
  });
  router.get('/:id', (req, res) => void res.json(clockJson(worlds.view(req.params.id))));
  router.post('/:id/advance', async (req, res) => {
    const body = advanceInput.parse(req.body ?? {});
    const result = await worlds.advance(req.params.id, Date.parse(body.to));
    res.json({
      ...clockJson(worlds.view(req.params.id)),
      from: iso(result.fromMs),
      processed: { stateEvents: result.stateEvents, deliveryAttempts: result.deliveryAttempts },
    });
  });
  router.delete('/:id', (req, res) => {
    worlds.remove(req.params.id);
    res.json({ id: req.params.id, deleted: true });
  });
  return router;
}

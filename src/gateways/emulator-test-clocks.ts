/**
 * What the three emulators' test clocks share: the clocks' worlds kept beside the main one, and
 * the control routes at `/_emulator/test_clocks`. Each emulator keeps its own world (QFPay's
 * emulator, QorePay's and MadFintech's), its own way to advance one, and its own error answers.
 */
import express, { type Router } from 'express';
import { TEST_CLOCK_ID } from './test-clock-header';

/** A clock as the control API shows it. */
export interface EmulatorClockView {
  id: string;
  /** The clock's time, epoch ms. */
  nowMs: number;
  /** When its world has anything scheduled next (a billing, a retry, a due date), or null. */
  nextDueMs: number | null;
}

/** What a clock's advance did. */
export interface EmulatorClockAdvance {
  /** The clock's time before, epoch ms. */
  fromMs: number;
  /** Billing events run: billing dates reached, retries, due dates, expiries. */
  stateEvents: number;
  /** HTTP delivery attempts of the world's notifications made while the advance ran. */
  deliveryAttempts: number;
}

/** The errors an emulator answers a refused clock call with, in its own style. */
export interface TestClockRefusals {
  /** 400: the id is not 1 to 64 letters, digits, `_` or `-`. */
  malformed(id: string): Error;
  /** 409: the clock exists. */
  exists(id: string): Error;
  /** 404: no such clock. */
  notFound(id: string): Error;
}

/**
 * The refusals in the wording QFPay's and MadFintech's emulators share, as `error` makes their
 * errors; a malformed id is answered with `malformedCode`.
 */
export function testClockRefusals(
  error: (status: 400 | 404 | 409, code: string, message: string) => Error,
  malformedCode: string,
): TestClockRefusals {
  return {
    malformed: (id) =>
      error(
        400,
        malformedCode,
        `test clock id ${JSON.stringify(id)} is malformed: 1 to 64 letters, digits, _ or -`,
      ),
    exists: (id) => error(409, 'test_clock_exists', `test clock ${id} exists`),
    notFound: (id) => error(404, 'test_clock_not_found', `no test clock ${id}`),
  };
}

/** The clocks' worlds of one emulator, by id, beside its main world. */
export class ClockWorlds<W> {
  private readonly clocks = new Map<string, W>();

  constructor(
    readonly main: W,
    private readonly refuse: TestClockRefusals,
  ) {}

  /**
   * Adds clock `id`, its world made by `make`.
   * @throws the emulator's refusal of a malformed id, or of a clock that exists
   */
  add(id: string, make: () => W): W {
    if (!TEST_CLOCK_ID.test(id)) throw this.refuse.malformed(id);
    if (this.clocks.has(id)) throw this.refuse.exists(id);
    const world = make();
    this.clocks.set(id, world);
    return world;
  }

  /**
   * The world a request naming clock `id` is for: the clock's, or the main one when it names none.
   * @throws the emulator's refusal of a clock that does not exist
   */
  world(id: string | undefined): W {
    return id === undefined || id === '' ? this.main : this.clock(id);
  }

  /** @throws the emulator's refusal of a clock that does not exist */
  clock(id: string): W {
    const world = this.clocks.get(id);
    if (world === undefined) throw this.refuse.notFound(id);
    return world;
  }

  /**
   * The world that holds what a call names, when the call names no clock: the main world if it
   * holds it or nothing is named (`holds` undefined), else the clock that does, else the main one.
   * So the engine reaches a record on a clock by its id alone.
   */
  holding(holds: ((world: W) => boolean) | undefined): W {
    if (holds === undefined || holds(this.main)) return this.main;
    for (const world of this.clocks.values()) if (holds(world)) return world;
    return this.main;
  }

  /** Every clock's id, in order. */
  ids(): string[] {
    return [...this.clocks.keys()].sort();
  }

  /** Every clock's world. */
  worlds(): W[] {
    return [...this.clocks.values()];
  }

  /**
   * Takes clock `id` out, for the emulator to close its world.
   * @throws the emulator's refusal of a clock that does not exist
   */
  take(id: string): W {
    const world = this.clock(id);
    this.clocks.delete(id);
    return world;
  }

  /** Takes every clock out, for the emulator to close their worlds. */
  takeAll(): W[] {
    const worlds = this.worlds();
    this.clocks.clear();
    return worlds;
  }
}

/** What the routes ask of an emulator's clocks. */
export interface TestClockControl {
  list(): EmulatorClockView[];
  create(id: string, frozenMs: number): EmulatorClockView;
  view(id: string): EmulatorClockView;
  advance(id: string, toMs: number): Promise<EmulatorClockAdvance>;
  remove(id: string): void | Promise<void>;
}

/** How an emulator reads the routes' bodies: each throws its own 400 for a body it refuses. */
export interface TestClockBodies {
  create(body: unknown): { id: string; frozenMs: number };
  advance(body: unknown): { toMs: number };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A clock as the control API answers it. */
export function testClockJson(view: EmulatorClockView): Record<string, unknown> {
  return {
    id: view.id,
    now: iso(view.nowMs),
    nowMs: view.nowMs,
    next_due: iso(view.nextDueMs),
    nextDueMs: view.nextDueMs,
  };
}

/**
 * The test clocks' routes (mounted at `/_emulator/test_clocks`, no authentication): list them,
 * make one frozen at a time, read one (its time and when anything on it is due next), advance one
 * to a time (everything due on the way in time order, its notifications delivered before the
 * answer), and remove one. What lives on a clock is made through the API and the control API with
 * the clock's header. Errors go to the emulator's own error handler.
 */
export function testClockRoutes(clocks: TestClockControl, bodies: TestClockBodies): Router {
  const router = express.Router();
  router.get('/', (_req, res) => void res.json({ data: clocks.list().map(testClockJson) }));
  router.post('/', (req, res) => {
    const { id, frozenMs } = bodies.create(req.body ?? {});
    res.status(201).json(testClockJson(clocks.create(id, frozenMs)));
  });
  router.get('/:id', (req, res) => void res.json(testClockJson(clocks.view(req.params.id))));
  router.post('/:id/advance', async (req, res) => {
    const { toMs } = bodies.advance(req.body ?? {});
    const result = await clocks.advance(req.params.id, toMs);
    res.json({
      ...testClockJson(clocks.view(req.params.id)),
      from: iso(result.fromMs),
      processed: { stateEvents: result.stateEvents, deliveryAttempts: result.deliveryAttempts },
    });
  });
  router.delete('/:id', async (req, res) => {
    await clocks.remove(req.params.id);
    res.json({ id: req.params.id, deleted: true });
  });
  return router;
}

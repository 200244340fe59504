/**
 * Fault injection: the ways QFPay and the network misbehave, switchable at run time so the
 * engine's tests and benchmarks can prove it copes. Every decision draws from one RNG, seeded
 * when the test wants reproducible runs.
 */
import { z } from 'zod';

const rate = z.number().min(0).max(1);
const millis = z
  .number()
  .int()
  .min(0)
  .max(24 * 3_600_000);

/** The fault configuration, as `GET /_emulator/faults` shows it. */
export const faultConfigSchema = z
  .object({
    /** Seed of the fault RNG; `null` draws from `Math.random`. */
    seed: z.number().int().nullable(),
    /** Off: no notification is sent at all (benchmarks that drive the webhook themselves). */
    notificationsEnabled: z.boolean(),
    /** Share of notifications delivered twice. */
    duplicateRate: rate,
    /** Share of notifications held back by `delayMs` (emulator time), so later ones overtake them. */
    reorderRate: rate,
    delayMs: millis,
    /** Share of notifications never delivered (logged as dropped). */
    dropRate: rate,
    /** Share of API calls answered HTTP 500/502/503 without being processed. */
    serverErrorRate: rate,
    /** Share of API calls answered HTTP 429 without being processed. */
    rateLimitRate: rate,
    /** Share of API calls whose answer is held for `timeoutMs` (real time). */
    timeoutRate: rate,
    timeoutMs: millis,
    /** Whether a timed-out call is processed (the client cannot tell), or dropped before processing. */
    timeoutProcesses: z.boolean(),
    /** Share of API calls answered only after `slowMs` (real time). */
    slowRate: rate,
    slowMs: millis,
    /** Share of manual charges answered `1145` (processing) and completed `pendingChargeDelayMs` later. */
    pendingChargeRate: rate,
    pendingChargeDelayMs: millis,
    /** API paths the API faults apply to; `null` means every QFPay endpoint. */
    endpoints: z.array(z.string().startsWith('/')).nullable(),
  })
  .strict();

/** The fault configuration. */
export type FaultConfig = z.infer<typeof faultConfigSchema>;

/** A change to the fault configuration: any subset of its fields. */
export const faultConfigUpdateSchema = faultConfigSchema.partial().strict();

/** A change to the fault configuration. */
export type FaultConfigUpdate = z.infer<typeof faultConfigUpdateSchema>;

/** No faults: everything behaves. */
export const DEFAULT_FAULTS: Readonly<FaultConfig> = Object.freeze({
  seed: null,
  notificationsEnabled: true,
  duplicateRate: 0,
  reorderRate: 0,
  delayMs: 5_000,
  dropRate: 0,
  serverErrorRate: 0,
  rateLimitRate: 0,
  timeoutRate: 0,
  timeoutMs: 30_000,
  timeoutProcesses: true,
  slowRate: 0,
  slowMs: 2_000,
  pendingChargeRate: 0,
  pendingChargeDelayMs: 1_000,
  endpoints: null,
});

/** What to do to one API call. */
export type ApiFault =
  | { kind: 'rate_limit' }
  | { kind: 'server_error'; status: 500 | 502 | 503 }
  | { kind: 'timeout'; holdMs: number; processes: boolean }
  | { kind: 'slow'; delayMs: number };

/** What to do to one notification. */
export interface NotificationFault {
  drop: boolean;
  duplicate: boolean;
  /** Emulator ms to hold the first delivery back; 0 = deliver at once. */
  delayMs: number;
}

/** mulberry32: a small, fast, seedable PRNG; plenty for fault draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Holds the fault configuration and makes every fault decision. */
export class FaultInjector {
  private current: FaultConfig;
  private random: () => number;

  constructor(initial: FaultConfigUpdate = {}) {
    this.current = { ...DEFAULT_FAULTS };
    this.random = Math.random;
    this.update(initial);
  }

  /** The configuration in force. */
  get config(): FaultConfig {
    return { ...this.current, endpoints: this.current.endpoints ? [...this.current.endpoints] : null };
  }

  /**
   * Merges a change into the configuration. Giving a `seed` (even the same one) restarts the
   * seeded sequence, so a test that sets its faults gets the same draws every run.
   * @throws z.ZodError when the change is not valid
   */
  update(change: FaultConfigUpdate): FaultConfig {
    const parsed = faultConfigUpdateSchema.parse(change);
    this.current = faultConfigSchema.parse({ ...this.current, ...parsed });
    if (parsed.seed !== undefined) {
      this.random = this.current.seed === null ? Math.random : seededRandom(this.current.seed);
    }
    return this.config;
  }

  /** Back to no faults and an unseeded RNG. */
  reset(): FaultConfig {
    this.current = { ...DEFAULT_FAULTS };
    this.random = Math.random;
    return this.config;
  }

  /** Whether notifications are sent at all. */
  get notificationsEnabled(): boolean {
    return this.current.notificationsEnabled;
  }

  /** Decides the fault for one call of a QFPay endpoint, if any. */
  apiFault(path: string): ApiFault | undefined {
    const c = this.current;
    if (c.endpoints !== null && !c.endpoints.includes(path)) return undefined;
    const rateLimited = this.hit(c.rateLimitRate);
    const serverError = this.hit(c.serverErrorRate);
    const timedOut = this.hit(c.timeoutRate);
    const slow = this.hit(c.slowRate);
    const statusDraw = this.random();
    if (rateLimited) return { kind: 'rate_limit' };
    if (serverError) {
      const statuses = [500, 502, 503] as const;
      return { kind: 'server_error', status: statuses[Math.floor(statusDraw * 3)] ?? 500 };
    }
    if (timedOut) return { kind: 'timeout', holdMs: c.timeoutMs, processes: c.timeoutProcesses };
    if (slow) return { kind: 'slow', delayMs: c.slowMs };
    return undefined;
  }

  /** Decides whether this manual charge is answered `1145` and completed later. */
  pendingCharge(path: string): boolean {
    const c = this.current;
    if (c.endpoints !== null && !c.endpoints.includes(path)) return false;
    return this.hit(c.pendingChargeRate);
  }

  /** Decides the fate of one notification. */
  notificationFault(): NotificationFault {
    const c = this.current;
    const drop = this.hit(c.dropRate);
    const duplicate = this.hit(c.duplicateRate);
    const delayed = this.hit(c.reorderRate);
    return { drop, duplicate: !drop && duplicate, delayMs: !drop && delayed ? c.delayMs : 0 };
  }

  /** Always draws, so changing one rate never shifts the seeded draws of the others. */
  private hit(probability: number): boolean {
    return this.random() < probability;
  }
}

/**
 * One world of the QorePay emulator: a clock with its billing (templates, subscribers, purchases,
 * card approvals), the notifier that sends what happens in it, and the faults injected into it.
 * The emulator has a main world, and one more per test clock (`test-clocks.ts`); they share only
 * the token, brand, signing key and notify URL.
 */
import type { KeyObject } from 'node:crypto';
import { Billing } from './billing';
import { Notifier, type NotificationFaults } from './notifier';

/** What may be injected into a world: notification faults, API failures, a refused cancel. */
export type EmulatorFaults = NotificationFaults & {
  /** 1: refuse the status `subscription_cancelled` (seed 003 documents only `active` and paused). */
  refuseCancelStatus: number;
  /** Share (0..1) of API calls answered `apiFailStatus`, unprocessed. */
  apiFailRate: number;
  /** The next N API calls fail, after `apiFailSkip` calls pass. */
  apiFailNext: number;
  apiFailSkip: number;
  apiFailStatus: number;
};

/** No fault at all: what a world starts with. */
export function defaultFaults(): EmulatorFaults {
  return {
    refuseCancelStatus: 0,
    apiFailRate: 0,
    apiFailNext: 0,
    apiFailSkip: 0,
    apiFailStatus: 503,
    dropRate: 0,
    duplicateRate: 0,
    delayRate: 0,
    delayMs: 0,
  };
}

export interface World {
  billing: Billing;
  notifier: Notifier;
  /** Read by the notifier and the API on every use: changing a field changes the world's faults. */
  faults: EmulatorFaults;
}

/**
 * A world whose clock starts at `startMs` (default: the real now), sending its notifications to
 * `notifyUrl` signed with `key`; a test clock's world names its clock in each notification.
 */
export function createWorld(options: {
  notifyUrl: string | undefined;
  key: KeyObject;
  startMs?: number | undefined;
  testClockId?: string;
}): World {
  const faults = defaultFaults();
  const notifier = new Notifier(options.notifyUrl, options.key, faults, Math.random, options.testClockId);
  const billing = new Billing((event, body, id) => notifier.emit(event, body, id), options.startMs);
  return { billing, notifier, faults };
}

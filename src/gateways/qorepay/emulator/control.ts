/** A typed client of the emulator's control API (`/_emulator`), for tests, demos and the bench. */
import { TEST_CLOCK_HEADER } from '../../test-clock-header';
import type { SentNotification } from './notifier';

export interface EmulatorState {
  templates: Array<{ id: string; title: string }>;
  subscribers: Array<{ billing_template_id: string; client_id: string; status: string }>;
  purchases: Array<{ id: string; reference: string; status: string; billing_template_id: string }>;
}

/**
 * The control API of the emulator at `url`: of its main world, or of test clock `testClock`'s world
 * (each call then names it in {@link TEST_CLOCK_HEADER}).
 */
export function emulatorControl(url: string, testClock?: string) {
  async function call<T>(path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${url}/_emulator${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(testClock !== undefined && { [TEST_CLOCK_HEADER]: testClock }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
  return {
    now: async () => (await call<{ now: number }>('/clock')).now,
    advance: async (ms: number) => (await call<{ now: number }>('/clock/advance', { ms })).now,
    /** Moves the clock to `at` (epoch ms); an earlier time leaves it where it is. */
    async advanceTo(at: number): Promise<number> {
      return this.advance(Math.max(0, at - (await this.now())));
    },
    /** Makes saved cards approve or decline: all of them, or one subscription's (`<template>~<client>`). */
    cards: (approve: boolean, subscriptionId?: string) => call('/cards', { approve, subscriptionId }),
    faults: (faults: Record<string, number>) => call('/faults', faults),
    notifications: () => call<SentNotification[]>('/notifications'),
    state: () => call<EmulatorState>('/state'),
  };
}

/**
 * A merchant's receiver of the engine's events, written as the documentation says: every body
 * verified with the official `standardwebhooks` library under the endpoint's secret (204), and
 * anything it refuses answered 400.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One event as the receiver verified it. */
export interface ReceivedEvent {
  id: string;
  type: string;
  created_at: string;
  /** The test clock the subscription lives on; absent in real time. */
  test_clock?: string;
  subscription_id: string;
  data: any;
}

export interface MerchantReceiver {
  /** The events verified so far, in arrival order. */
  events: ReceivedEvent[];
  /** The engine's settings for this receiver (`MERCHANT_EVENTS_URL`, `MERCHANT_EVENTS_SECRET`). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts a receiver on a free local port, with a fresh secret. */
export async function startMerchantReceiver(): Promise<MerchantReceiver> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const events: ReceivedEvent[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        events.push(new Webhook(secret).verify(Buffer.concat(chunks), req.headers as never) as never);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    events,
    env: { MERCHANT_EVENTS_URL: `http://127.0.0.1:${port}/hook`, MERCHANT_EVENTS_SECRET: secret },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A subscription's events as a story to compare across runs: each event once (by id), in the
 * order of their times, and those of one moment by type (the engine records them in one step;
 * their deliveries may arrive in any order). A moment is one time, or with `momentMs` a run of
 * events each within `momentMs` of the one before. A state change names its states; a
 * payment or an attempt its cycle and attempt.
 */
export function eventStory(events: readonly ReceivedEvent[], subscriptionId: string, momentMs = 0): string[] {
  const once = new Map<string, ReceivedEvent>();
  for (const e of events) if (e.subscription_id === subscriptionId) once.set(e.id, e);
  const line = (e: ReceivedEvent): string => {
    const d = (e.data ?? {}) as Record<string, unknown>;
    if (e.type === 'subscription.state_changed') return `${e.type} ${String(d.from)}→${String(d.to)}`;
    const parts = [
      d.sequence_no !== undefined && `#${String(d.sequence_no)}`,
      d.attempt !== undefined && `attempt ${String(d.attempt)}`,
      d.result !== undefined && String(d.result),
    ].filter(Boolean);
    return [e.type, ...parts].join(' ');
  };
  // Moments: events within `momentMs` of the one before are one moment (in real time, what one
  // charge causes reaches the engine by two paths, its answer and its notification, a moment apart).
  const moments: ReceivedEvent[][] = [];
  let last = -Infinity;
  for (const e of [...once.values()].sort((a, b) => a.created_at.localeCompare(b.created_at))) {
    const at = Date.parse(e.created_at);
    if (at - last > momentMs || moments.length === 0) moments.push([]);
    moments.at(-1)!.push(e);
    last = at;
  }
  return moments.flatMap((m) => m.map(line).sort());
}

/**
 * The merchant's event receiver, as the chaos suite runs it: it checks every delivery's signature
 * with the engine's own verifier (as a merchant would with the documented scheme), answers 200,
 * and keeps every delivery, so the audit can tell what was reported, how often, and under which id.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyMerchantEvent } from '../src/events/merchant-events';
import type { Delivery } from './audit';

export interface EventReceiver {
  url: string;
  deliveries: Delivery[];
  /**
   * Requests cut off before their body was whole (a worker SIGKILLed while sending): the sender got
   * no answer and sends the event again, so they are counted, not audited.
   */
  interrupted: number;
  close(): Promise<void>;
}

/** The request's body, or `undefined` when the request was cut off before it was whole. */
function body(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(req.complete ? Buffer.concat(chunks) : undefined));
    req.on('error', () => resolve(undefined));
    req.on('close', () => resolve(req.complete ? Buffer.concat(chunks) : undefined));
  });
}

/** Starts a receiver on a free loopback port. */
export async function startEventReceiver(secret: string): Promise<EventReceiver> {
  const deliveries: Delivery[] = [];
  const receiver = { interrupted: 0 };
  const server: Server = createServer((req, res) => {
    void body(req).then((raw) => {
      if (raw === undefined) {
        receiver.interrupted += 1;
        return;
      }
      // Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature. The suite checks the
      // signature, not the age (its clocks jump).
      const verified = verifyMerchantEvent(raw, req.headers, secret, { toleranceSec: 7 * 86_400 }).ok;
      let event: Partial<Delivery> = {};
      try {
        event = JSON.parse(raw.toString('utf8')) as Partial<Delivery>;
      } catch {
        // Counted as unverified below.
      }
      deliveries.push({
        id: String(event.id),
        type: String(event.type),
        subscription_id: String(event.subscription_id),
        data: (event.data ?? {}) as Record<string, unknown>,
        verified: verified && typeof event.id === 'string',
        ...(typeof event.created_at === 'string' && { created_at: event.created_at }),
        ...(typeof event.test_clock === 'string' && { test_clock: event.test_clock }),
      });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    deliveries,
    get interrupted() {
      return receiver.interrupted;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

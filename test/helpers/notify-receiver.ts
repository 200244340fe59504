/**
 * A gateway emulator's notify URL, over real HTTP on a free local port: it keeps every POST with
 * its raw body and headers (for the webhook's real verification), answers 200 `OK`, or 500 to the
 * next `refuseNext` requests, so that the emulator must deliver again.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request to the notify URL, as it came. */
export interface NotifyRequest {
  raw: Buffer;
  headers: IncomingHttpHeaders;
  /** Whether it was answered 500 (`refuseNext`), so the emulator had to deliver it again. */
  refused: boolean;
}

export class NotifyReceiver {
  /** Every request, in arrival order, the refused ones too. */
  readonly requests: NotifyRequest[] = [];
  /** How many of the next requests are answered 500. */
  refuseNext = 0;
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const refused = this.refuseNext > 0;
      if (refused) this.refuseNext -= 1;
      this.requests.push({ raw: Buffer.concat(chunks), headers: req.headers, refused });
      if (refused) res.writeHead(500).end('try again');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      this.waiters = this.waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
    });
  });

  /** Listens on a free local port; answers the notify URL at `path`. */
  async start(path: string): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The requests answered 200: what the emulator delivered. */
  delivered(): NotifyRequest[] {
    return this.requests.filter((r) => !r.refused);
  }

  /** Resolves once `count` requests have come, refused or not. */
  requestsMade(count: number): Promise<void> {
    return this.until(() => this.requests.length >= count);
  }

  /** Resolves once `count` requests have been delivered (answered 200). */
  deliveries(count: number): Promise<void> {
    return this.until(() => this.delivered().length >= count);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ done, resolve }));
  }
}

/**
 * An HTTP proxy between the worker and the gateway emulator that holds a call the test names:
 * before the emulator sees it, or after the emulator answered (the call took effect, its answer
 * not passed on). A test kills the worker while a call is held, so the crash comes at a point it
 * chose, not at one a sleep guessed. Every other call goes straight through.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A call as the proxy received it. */
export interface ProxiedCall {
  method: string;
  /** The path with its query. */
  path: string;
  body: string;
}

/** A held call: nothing reaches its caller until the test says so. */
export interface HeldCall extends ProxiedCall {
  /** Sends it to the emulator; resolves once the emulator answered (the answer is kept back). */
  forward(): Promise<void>;
  /** Whether its caller is gone (the connection closed: the worker was killed). */
  readonly abandoned: boolean;
}

export interface HoldingProxy {
  url: string;
  /** Holds the next call that `match` accepts; resolves with it once it arrived. */
  hold(match: (call: ProxiedCall) => boolean): Promise<HeldCall>;
  /**
   * Holds no more, and passes every held call on whose caller still waits (forwarded first when
   * it was not yet); one whose caller is gone is dropped, and if it was not forwarded the emulator
   * never sees it, as when a worker dies before its request leaves.
   */
  releaseAll(): Promise<void>;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

/** Starts a proxy to `target` (a base URL) on a free local port. */
export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const waiting: Array<{ match: (call: ProxiedCall) => boolean; take: (held: HeldCall) => void }> = [];
  const releases = new Set<() => Promise<void>>();

  async function send(req: IncomingMessage, call: ProxiedCall): Promise<Answer> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    const res = await fetch(`${target}${call.path}`, {
      method: call.method,
      headers,
      ...(call.method === 'GET' || call.method === 'HEAD' ? {} : { body: call.body }),
    });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  function reply(res: ServerResponse, answer: Answer): void {
    if (res.destroyed || res.writableEnded) return;
    const headers: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    });
    res.writeHead(answer.status, headers).end(answer.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const call: ProxiedCall = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body: Buffer.concat(chunks).toString(),
    };
    const index = waiting.findIndex((w) => w.match(call));
    if (index < 0) return reply(res, await send(req, call));
    const [{ take }] = waiting.splice(index, 1) as [(typeof waiting)[number]];
    let answer: Promise<Answer> | undefined;
    const forward = () => (answer ??= send(req, call));
    const gone = () => res.destroyed || req.socket.destroyed;
    const release = async () => {
      releases.delete(release);
      if (gone() && answer === undefined) return;
      reply(res, await forward());
    };
    releases.add(release);
    take({
      ...call,
      forward: async () => {
        await forward();
      },
      get abandoned() {
        return gone();
      },
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    hold: (match) => new Promise((take) => waiting.push({ match, take })),
    async releaseAll() {
      waiting.splice(0);
      await Promise.all([...releases].map((release) => release()));
    },
    async close() {
      waiting.splice(0);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Lever 5 of the performance work, measured before anything is adopted: the engine's webhook
 * intake (`notificationIntake`, the same verification, reading, signals and counts as the API's
 * route) served by a bare `node:http` server, with no Express, no router, no body parser, no
 * request log and no request metrics. The bench (`--bare-webhook`) runs it beside the API process
 * and loads both the same way, so the difference is what the HTTP layer costs a notification.
 * It answers `POST /webhooks/:gateway` and `GET /readyz`, nothing else.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createQfpayClient } from '../src/activities';
import { apiContext } from '../src/api/app';
import { toApiError } from '../src/api/errors';
import { applyServerTimeouts } from '../src/api/main';
import { configuredModule } from '../src/api/routes/gateway-modules';
import { notificationIntake, WEBHOOK_BODY_LIMIT_BYTES } from '../src/api/routes/webhooks';
import { loadConfigOrExit } from '../src/config';
import { createLogger } from '../src/logger';
import { connectClient } from '../src/temporal/connection';

const WEBHOOK_PATH = /^\/webhooks\/([^/?]+)(?:\?.*)?$/;

function answer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The body, or undefined when it is larger than the limit (answered 413 here). */
async function bodyOf(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > WEBHOOK_BODY_LIMIT_BYTES) {
      answer(res, 413, 'text/plain', 'too large\n');
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger('api', config.LOG_LEVEL);
  const temporal = await connectClient(config);
  const ctx = apiContext({ config, temporal, qfpay: createQfpayClient(config, logger), logger });
  const take = notificationIntake(ctx);

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/readyz')
      return answer(res, 200, 'application/json', '{"status":"ready"}');
    const gateway = WEBHOOK_PATH.exec(url)?.[1];
    if (req.method !== 'POST' || gateway === undefined) return answer(res, 404, 'text/plain', 'not here\n');
    void (async () => {
      try {
        const raw = await bodyOf(req, res);
        if (raw === undefined) return;
        const ack = await take(configuredModule(ctx, { gateway }), raw, req.headers, logger);
        answer(res, ack.status, ack.contentType, ack.body);
      } catch (err) {
        const apiError = toApiError(err);
        if (apiError.status >= 500) logger.error({ err, gateway }, 'bare webhook: notification not taken');
        if (!res.headersSent)
          answer(res, apiError.status, 'application/json', JSON.stringify(apiError.toBody('bare')));
      }
    })();
  });
  applyServerTimeouts(server);
  server.listen(config.PORT, '127.0.0.1');

  const shutdown = (): void => {
    server.close();
    server.closeIdleConnections();
    void temporal.connection.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`bare webhook API failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

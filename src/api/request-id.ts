/**
 * Request identity and the access log: every request gets an id (the caller's `X-Request-Id` when
 * it is a sane token, else a new UUID), echoed in the response header, a pino child logger that
 * carries it, and exactly one log line when the response is finished.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id (also in `res.locals.requestId` and the `X-Request-Id` response header). */
    id: string;
    /** A child logger bound to the request id. */
    log: Logger;
  }
}

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** A caller's id is used only if it cannot forge log fields or headers. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Picks the request id.
 * @param header the caller's `X-Request-Id`, if any
 * @returns the header when it is 1–128 characters of `[A-Za-z0-9._:-]`, else a new UUID
 */
export function resolveRequestId(header: string | undefined): string {
  return header !== undefined && SAFE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** What the access log hears about each finished request, e.g. for metrics. */
export interface RequestRecord {
  method: string;
  /** The matched route pattern (`/v1/subscriptions/:subscriptionId`), or `unmatched`. */
  route: string;
  status: number;
  durationMs: number;
}

/**
 * Assigns the request id and child logger, and logs one line per request (method, path, status,
 * duration, request id). Never logs headers, query strings or bodies: they may carry API keys or
 * card data.
 * @param logger the app's logger
 * @param onFinished called once per finished request (metrics)
 */
export function requestContext(logger: Logger, onFinished?: (record: RequestRecord) => void): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const id = resolveRequestId(req.get(REQUEST_ID_HEADER));
    req.id = id;
    req.log = logger.child({ request_id: id });
    res.locals.requestId = id;
    res.setHeader(REQUEST_ID_HEADER, id);

    let logged = false;
    const done = (): void => {
      if (logged) return;
      logged = true;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.headersSent ? res.statusCode : 499; // 499: the client went away first
      const line = {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status,
        duration_ms: Math.round(durationMs * 10) / 10,
      };
      if (status >= 500) req.log.error(line, 'request');
      else if (status >= 400) req.log.warn(line, 'request');
      else req.log.info(line, 'request');
      const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
      // On an error answer Express has already restored `req.baseUrl`: take the mount path the
      // router recorded when the request entered it, so success and error share one label.
      const mountPath = typeof res.locals.mountPath === 'string' ? res.locals.mountPath : req.baseUrl;
      const route = typeof routePath === 'string' ? `${mountPath}${routePath}` : 'unmatched';
      onFinished?.({ method: req.method, route, status, durationMs });
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}

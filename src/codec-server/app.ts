/**
 * The codec server: Temporal's remote codec protocol over HTTP, so the Web UI and the CLI show
 * decoded payloads to an operator. `POST …/decode` and `POST …/encode` take and return
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }` (the protobuf JSON
 * form of Payloads) and run them through the engine's own codec. Only the last path segment picks
 * the operation, so the server can be mounted under any prefix (e.g. `/{namespace}/decode`).
 *
 * Access: `Authorization: Bearer <token>` with one of `CODEC_SERVER_TOKENS` (the CLI sends it with
 * `--codec-auth`). Without tokens (development only; production refuses to start) every caller that
 * can reach the port is let in, so the local stack binds it to 127.0.0.1. Browsers: CORS answers
 * only the Web UI origins in `CODEC_SERVER_CORS_ORIGINS`.
 */
import cors from 'cors';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { ApiKeyVerifier, presentedApiKey } from '../api/auth';
import type { Logger } from '../logger';

/** The largest request body: a page of history's payloads. */
export const CODEC_BODY_LIMIT = '8mb';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/** One payload in protobuf JSON form: bytes fields as base64. */
const JsonPayloadSchema = z.object({
  metadata: z.record(z.string(), base64).optional(),
  data: base64.optional(),
});
const PayloadsBodySchema = z.object({ payloads: z.array(JsonPayloadSchema).max(10_000) });
type JsonPayload = z.output<typeof JsonPayloadSchema>;

function fromJson(payload: JsonPayload) {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Accepted bearer tokens; none lets every caller in (development only). */
  tokens: readonly string[];
  /** Browser origins allowed to call (the Web UI). */
  corsOrigins: readonly string[];
  logger: Logger;
}

function errorBody(code: string, message: string, details?: Array<{ path: string; message: string }>) {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/** Builds the codec server's app (without listening). */
export function buildCodecServer(options: CodecServerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use(
    cors({
      origin: [...options.corsOrigins],
      methods: ['POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
      maxAge: 600,
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const verifier = new ApiKeyVerifier(options.tokens);
  const requireToken: RequestHandler = (req, res, next) => {
    if (options.tokens.length === 0) {
      next();
      return;
    }
    const token = presentedApiKey(req.get('authorization'), undefined);
    if (token === undefined || !verifier.verify(token)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      res
        .status(401)
        .json(
          errorBody(
            'unauthorized',
            token === undefined ? 'missing Authorization: Bearer <token>' : 'invalid token',
          ),
        );
      return;
    }
    next();
  };

  const operation = (name: 'encode' | 'decode'): RequestHandler => {
    return async (req, res) => {
      const parsed = PayloadsBodySchema.safeParse(req.body);
      if (!parsed.success) {
        res.status(400).json(
          errorBody(
            'validation_error',
            'the body must be {"payloads": [{"metadata": {…base64}, "data": base64}]}',
            parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
          ),
        );
        return;
      }
      const payloads = parsed.data.payloads.map(fromJson);
      try {
        const result = await options.codec[name](payloads);
        res.json({ payloads: result.map(toJson) });
      } catch (err) {
        // A payload sealed with a key this server does not have, or tampered with.
        res.status(422).json(errorBody('codec_error', err instanceof Error ? err.message : 'codec failed'));
      }
    };
  };

  const json = express.json({ limit: CODEC_BODY_LIMIT, type: () => true });
  // Only the last segment names the operation, as the protocol asks: `/decode`, `/ns/decode`, …
  app.post(/\/encode$/, requireToken, json, operation('encode'));
  app.post(/\/decode$/, requireToken, json, operation('decode'));

  app.use((_req, res) => {
    res.status(404).json(errorBody('not_found', 'POST …/encode or …/decode'));
  });
  const onError: ErrorRequestHandler = (err: { status?: unknown; message?: unknown }, _req, res, _next) => {
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) options.logger.error({ err }, 'codec server error');
    res
      .status(status)
      .json(
        errorBody(
          status === 500 ? 'internal' : 'validation_error',
          status === 500 ? 'internal error' : String(err.message),
        ),
      );
  };
  app.use(onError);
  return app;
}

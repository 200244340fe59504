/**
 * Builds the Express app (without listening, so tests drive it with supertest): request ids and
 * the access log, the QFPay webhook (raw body), the authenticated merchant routes under `/v1`
 * (JSON bodies), health, readiness, metrics and the OpenAPI document, and the one error handler.
 */
import type { Client } from '@temporalio/client';
import express, { Router, type Express, type RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { QfpayClient } from '../gateways/qfpay/client';
import { ApiKeyVerifier, parseApiKeys, requireApiKey } from './auth';
import {
  DEFAULT_API_TIMEOUTS,
  engineDefaultPolicy,
  withinDeadline,
  type ApiContext,
  type ApiTimeouts,
} from './context';
import { ApiDigests } from './digests';
import { ApiError, errorHandler, notFoundHandler } from './errors';
import { ApiMetrics } from './metrics';
import { documentedPaths, methodNotAllowed } from './methods';
import { openApiDocument } from './openapi';
import { requestContext } from './request-id';
import { customerRouter } from './routes/customers';
import { productRouter } from './routes/products';
import { merchantEventRouter } from './routes/merchant-events';
import { eventRouter } from './routes/events';
import { reportRouter } from './routes/reports';
import { testClockRouter } from './routes/test-clocks';
import { gatewayRouter } from './routes/gateways';
import { webhookRouter } from './routes/webhooks';
import { subscriptionRouter } from './routes/subscriptions';
import { layeredEnv, type GatewayEnv } from '../gateways/port';
import { qfpayVariables } from '../gateways/qfpay/settings';
import { limitJsonDepth, requireJsonBody } from './validate';
import { handle, V1_MOUNT } from './route';

/** What {@link buildApp} needs. */
export interface AppDeps {
  config: Config;
  /** A connected Temporal client (its namespace is the one the API works in). */
  temporal: Client;
  /** Calls QFPay for customers and products. */
  qfpay: QfpayClient;
  logger: Logger;
  /** The clock for notification receipt times, epoch ms. @default Date.now */
  now?: () => number;
  /** Overrides of {@link DEFAULT_API_TIMEOUTS} (tests shorten them). */
  timeouts?: Partial<ApiTimeouts>;
  /** Where the gateways behind the port read their variables. @default process.env */
  gatewayEnv?: GatewayEnv;
}

/** The largest JSON body accepted on `/v1`. */
export const JSON_BODY_LIMIT = '100kb';

/**
 * Builds the API.
 * @returns the Express app; `app.locals.metrics` is its {@link ApiMetrics}
 * @throws DunningPolicyConfigError when `DUNNING_POLICY` is not a valid policy
 */
export function buildApp(deps: AppDeps): Express {
  const ctx = apiContext(deps);
  const { metrics } = ctx;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.locals.metrics = metrics;

  app.use(requestContext(deps.logger, (record) => metrics.request(record)));

  handle(app, 'healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  handle(app, 'readyz', async (req, res) => {
    try {
      await withinDeadline(ctx.temporal, ctx.timeouts.readinessMs, () =>
        ctx.temporal.workflowService.getSystemInfo({}),
      );
      res.json({ status: 'ready', temporal: 'ok' });
    } catch (err) {
      req.log.warn({ reason: err instanceof Error ? err.message : String(err) }, 'Temporal is not answering');
      res.status(503).json({ status: 'unavailable', temporal: 'unavailable' });
    }
  });

  handle(app, 'openApiDocument', (_req, res) => {
    res.json(openApiDocument());
  });

  app.use(webhookRouter(ctx));

  const v1 = Router();
  // The route label of metrics: the mount point as the routes below see it, kept for error answers.
  v1.use(rememberMountPath);
  v1.use(requireApiKey(new ApiKeyVerifier(parseApiKeys(deps.config.API_KEYS)), deps.config.MERCHANT_ID));
  v1.use(perClientRateLimit(deps.config.RATE_LIMIT_PER_MINUTE));
  v1.use(requireJsonBody);
  v1.use(express.json({ limit: JSON_BODY_LIMIT }));
  v1.use(limitJsonDepth());
  v1.use(customerRouter(ctx));
  v1.use(productRouter(ctx));
  v1.use(subscriptionRouter(ctx));
  v1.use(gatewayRouter(ctx));
  v1.use(merchantEventRouter(ctx));
  v1.use(eventRouter(ctx));
  v1.use(reportRouter(ctx));
  v1.use(testClockRouter(ctx));
  app.use(V1_MOUNT, v1);

  app.use(methodNotAllowed(documentedPaths(openApiDocument())));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * What every route reads: the dependencies, with the defaults filled in.
 * @throws DunningPolicyConfigError when `DUNNING_POLICY` is not a valid policy
 */
export function apiContext(deps: AppDeps): ApiContext {
  return {
    config: deps.config,
    temporal: deps.temporal,
    qfpay: deps.qfpay,
    logger: deps.logger,
    now: deps.now ?? Date.now,
    metrics: new ApiMetrics(),
    timeouts: { ...DEFAULT_API_TIMEOUTS, ...deps.timeouts },
    defaultPolicy: engineDefaultPolicy(deps.config),
    digests: new ApiDigests(deps.config.API_HMAC_SECRET),
    // QFPay's variables come from the parsed configuration (one source for the whole API).
    gatewayEnv: layeredEnv(deps.gatewayEnv ?? process.env, qfpayVariables(deps.config)),
  };
}

/** Records where a router is mounted, since Express forgets `req.baseUrl` once an error leaves it. */
const rememberMountPath: RequestHandler = (req, res, next) => {
  res.locals.mountPath = req.baseUrl;
  next();
};

/** How long one rate-limit window lasts. */
const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * `limit` requests per minute per API key (after authentication, so one merchant system cannot
 * starve another); past it, 429 `rate_limited` with `Retry-After` and the RateLimit headers.
 */
export function perClientRateLimit(limit: number): RequestHandler {
  return rateLimit({
    windowMs: RATE_LIMIT_WINDOW_MS,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => req.apiKeyId ?? ipKeyGenerator(req.ip ?? ''),
    handler: (_req, res, next) => {
      next(
        new ApiError({
          status: 429,
          code: 'rate_limited',
          message: `more than ${limit} requests a minute with this API key; slow down`,
          retryAfterSeconds: Number(res.getHeader('retry-after')) || RATE_LIMIT_WINDOW_MS / 1000,
        }),
      );
    },
  });
}

/**
 * The app that serves `GET /metrics` for `metrics`: on its own port (`METRICS_PORT`), never the
 * public one, so neither the metrics nor the cost of rendering them are open to API callers.
 */
export function buildMetricsApp(metrics: ApiMetrics): Express {
  const app = express();
  app.disable('x-powered-by');
  // Not an API route (its own port, not in the document).
  // eslint-disable-next-line no-restricted-syntax
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('GET /metrics\n');
  });
  return app;
}

/** The metrics of an app made by {@link buildApp}. */
export function appMetrics(app: Express): ApiMetrics {
  const metrics: unknown = app.locals.metrics;
  if (!(metrics instanceof ApiMetrics)) throw new TypeError('not an app built by buildApp');
  return metrics;
}

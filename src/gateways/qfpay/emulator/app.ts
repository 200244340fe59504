/**
 * The emulator's Express app: QFPay's endpoints (with API fault injection), the `/_emulator`
 * control API (also at its older path `/_sandbox`), and `/healthz`. Built here and started in
 * `server.ts`, so tests can use the app without a port.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { controlRouter, testClockRouter } from './control-api';
import { EmulatorRequestError } from './errors';
import { TEST_CLOCK_HEADER, TestClockWorlds } from './test-clocks';
import { handleQfpayRequest, isQfpayPath, QFPAY_PATHS, type QfpayCallOptions } from './qfpay-api';
import type { QfpayEmulator } from './emulator';

/**
 * Waits `ms` real milliseconds, or less if the connection closes first (the client gave up,
 * or the server is shutting down).
 */
function hold(ms: number, res: Response): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    res.on('close', done);
  });
}

function canAnswer(res: Response): boolean {
  return !res.destroyed && !res.writableEnded;
}

/** Where the emulator-only control API answers. */
export const CONTROL_PATH = '/_emulator';
/** The control API's earlier path, answered alike so that existing scripts and tests keep working. */
export const OLDER_CONTROL_PATH = '/_sandbox';

/**
 * Builds the emulator's Express app. A request with the {@link TEST_CLOCK_HEADER} header is
 * served by that test clock's world (`worlds`), QFPay's endpoints and the control API alike; one
 * without it by `emulator`, the main world.
 */
export function buildEmulatorApp(
  emulator: QfpayEmulator,
  worlds: TestClockWorlds = new TestClockWorlds(emulator),
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  /** The world a request is for, or a 404 naming the clock that does not exist. */
  const worldOf = (req: Request, res: Response): QfpayEmulator | undefined => {
    try {
      return worlds.world(req.get(TEST_CLOCK_HEADER));
    } catch (error) {
      if (!(error instanceof EmulatorRequestError)) throw error;
      res.status(error.status).json({ error: { type: error.type, message: error.message } });
      return undefined;
    }
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', now: new Date(emulator.clock.now()).toISOString() });
  });

  app.use(`${CONTROL_PATH}/test_clocks`, testClockRouter(worlds, emulator));
  const controls = new WeakMap<QfpayEmulator, ReturnType<typeof controlRouter>>();
  const control = (req: Request, res: Response, next: NextFunction): void => {
    const world = worldOf(req, res);
    if (!world) return;
    let router = controls.get(world);
    if (!router) controls.set(world, (router = controlRouter(world)));
    router(req, res, next);
  };
  app.use(CONTROL_PATH, control);
  // The path clients written before the emulator had its name still call.
  app.use(OLDER_CONTROL_PATH, control);

  // The raw body is kept: the signature covers exactly the parameters received.
  app.post([...QFPAY_PATHS], express.text({ type: () => true, limit: '1mb' }), async (req, res) => {
    const path = req.path;
    const named = worldOf(req, res);
    if (!named) return;
    // A call that names no clock reaches the record it names wherever it lives (`worldHolding`).
    const world =
      req.get(TEST_CLOCK_HEADER) === undefined && typeof req.body === 'string'
        ? worlds.worldHolding(new URLSearchParams(req.body))
        : named;
    if (!isQfpayPath(path)) {
      res.status(404).json({ error: { type: 'not_found', message: `no endpoint ${path}` } });
      return;
    }
    const fault = world.faults.apiFault(path);
    if (fault?.kind === 'rate_limit') {
      res.status(429).set('Retry-After', '1').type('text/plain').send('Too Many Requests');
      return;
    }
    if (fault?.kind === 'server_error') {
      res.status(fault.status).type('text/plain').send('Emulator fault injection: server error');
      return;
    }
    if (fault?.kind === 'slow') await hold(fault.delayMs, res);
    if (fault?.kind === 'timeout' && !fault.processes) {
      await hold(fault.holdMs, res);
      if (canAnswer(res)) res.status(504).type('text/plain').send('Gateway Timeout');
      return;
    }
    if (!canAnswer(res)) return;

    world.runtime.catchUp();
    const options: QfpayCallOptions = {};
    if (path === '/subscription/v1/charge' && world.faults.pendingCharge(path)) {
      options.deferChargeMs = world.faults.config.pendingChargeDelayMs;
    }
    const envelope = handleQfpayRequest(
      world,
      {
        path,
        body: typeof req.body === 'string' ? req.body : '',
        headers: {
          appCode: req.get('X-QF-APPCODE'),
          sign: req.get('X-QF-SIGN'),
          signType: req.get('X-QF-SIGNTYPE'),
        },
      },
      options,
    );
    world.runtime.requestRun();
    world.logger.debug({ path, respcd: envelope.respcd, fault: fault?.kind }, 'qfpay call');

    if (fault?.kind === 'timeout') await hold(fault.holdMs, res);
    if (canAnswer(res)) res.json(envelope);
  });

  app.use((req, res) => {
    res.status(404).json({ error: { type: 'not_found', message: `no route ${req.method} ${req.path}` } });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: { type: 'invalid_request', message: (error as Error).message } });
      return;
    }
    emulator.logger.error({ err: error }, 'emulator request failed');
    res.status(500).json({ error: { type: 'internal_error', message: 'internal emulator error' } });
  });

  return app;
}

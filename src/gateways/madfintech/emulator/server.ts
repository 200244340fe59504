/**
 * The emulator over HTTP: MadFintech's endpoints under `/api/v1` (checked `Api-Access-Token`,
 * answers dated by the emulator's clock) and a control API under `/_emulator` (clock, cards,
 * faults, the notification log, test clocks). Callbacks are signed and POSTed to the notify URL,
 * retried on a non-2xx answer with a short backoff. Each test clock is a world of its own: a
 * request with the {@link TEST_CLOCK_HEADER} header is its world's, one without it the world's
 * holding the record it names (the main world's when none does).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { INTERVAL_TYPES } from '../schemas';
import { TEST_CLOCK_HEADER, TestClockError, TestClockWorlds, type NamedRecord } from './test-clocks';
import { testClockRoutes } from '../../emulator-test-clocks';
import { EmulatorWorld, FaultsInput } from './world';

export type { NotificationRecord } from './world';

export interface EmulatorOptions {
  port: number;
  host?: string;
  notifyUrl?: string;
  token?: string;
  shopId?: string;
  callbackSecret?: string;
  /** The emulator's time at start, epoch ms. @default the real now */
  startMs?: number;
}

/**
 * An order as seed 004 creates one, in any of its three ways: card data with a bound card's
 * `cardId` (Binded Card), card data itself (a PCI DSS merchant), or neither (the hosted page: the
 * answer carries a `paymentLink`). Fields the seed shows and the emulator has no use for
 * (`paymentSettings`, `paymentPageDesign`, `personalData`, `billingAddress`) are taken.
 */
const CreateInput = z.looseObject({
  shopId: z.union([z.number(), z.string()]),
  order: z.looseObject({
    orderNumber: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    cost: z.object({
      amount: z.string().regex(/^\d+(\.\d{1,3})?$/),
      currency: z.string().regex(/^[A-Z]{3}$/),
    }),
    recurringPayments: z.object({
      billingIntervalQuantity: z.number().int().positive(),
      intervalType: z.enum(INTERVAL_TYPES),
      endDate: z.iso.datetime({ offset: true }).optional(),
      paymentCount: z.number().int().positive().optional(),
    }),
  }),
  customer: z.object({ customerId: z.string().min(1) }),
  payer: z
    .looseObject({
      cardData: z
        .looseObject({
          cardId: z.string().min(1).optional(),
          cardNumber: z
            .string()
            .regex(/^\d{12,19}$/)
            .optional(),
        })
        .refine((c) => c.cardId !== undefined || c.cardNumber !== undefined, 'cardId or cardNumber')
        .optional(),
    })
    .optional(),
});

const fail = (res: Response, status: number, code: string, message: string): void => {
  res.status(status).json({ error: { code, message } });
};

/** The record an API call or the hosted page names in its path (by which it is routed). */
function namedRecord(path: string): NamedRecord | undefined {
  const decoded = (text: string): string | undefined => {
    try {
      return decodeURIComponent(text);
    } catch {
      return undefined;
    }
  };
  const order = /^\/api\/v1\/order\/[^/]+\/([^/]+)\/?$/i.exec(path) ?? /^\/pay\/([^/]+)\/?$/i.exec(path);
  const orderNumber = order?.[1] === undefined ? undefined : decoded(order[1]);
  if (orderNumber !== undefined) return { orderNumber };
  const recurring = /^\/api\/v1\/recurring\/([^/]+)\/?$/i.exec(path);
  const recurringId = recurring?.[1] === undefined ? undefined : decoded(recurring[1]);
  return recurringId === undefined ? undefined : { recurringId };
}

/** An ISO-8601 time with its offset (`Z` or `±hh:mm`), read as epoch ms. */
const IsoTime = z.iso.datetime({ offset: true }).transform((text) => Date.parse(text));
const TestClockInput = z.object({ id: z.string(), frozen_time: IsoTime }).strict();
const TestClockAdvanceInput = z.object({ to: IsoTime }).strict();

/**
 * The test clocks' routes (mounted at `/_emulator/test_clocks`); a body refused answers 400
 * `validation_error` naming its first issue.
 */
function testClockRouter(clocks: TestClockWorlds): Router {
  const read = <T extends z.ZodType>(schema: T, body: unknown): z.output<T> => {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    throw new TestClockError(400, 'validation_error', `${issue?.path.join('.')}: ${issue?.message}`);
  };
  return testClockRoutes(clocks, {
    create: (body) => {
      const input = read(TestClockInput, body);
      return { id: input.id, frozenMs: input.frozen_time };
    },
    advance: (body) => ({ toMs: read(TestClockAdvanceInput, body).to }),
  });
}

export async function startMadfintechEmulator(options: EmulatorOptions) {
  const token = options.token ?? randomBytes(16).toString('hex');
  const shopId = options.shopId ?? '1234';
  const secret = options.callbackSecret ?? randomBytes(24).toString('hex');
  const main = new EmulatorWorld({
    shopId,
    secret,
    notifyUrl: options.notifyUrl,
    startMs: options.startMs ?? Date.now(),
  });
  const clocks = new TestClockWorlds(main);
  const gateway = main.gateway;
  /** The emulator's own URL, known once it listens (the hosted page's links point at it). */
  let url = '';
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  app.use('/_emulator/test_clocks', (_req, res, next) => {
    res.setHeader('Date', new Date(gateway.now).toUTCString());
    next();
  });
  app.use('/_emulator/test_clocks', testClockRouter(clocks));

  /** The world a request was routed to (below). */
  const worldOf = (res: Response): EmulatorWorld => res.locals.world as EmulatorWorld;
  // Every other request is its world's: the header's clock, else the holder of what it names.
  // Answers are dated by that world's clock, as the gateway's own time.
  app.use((req, res, next) => {
    const world = clocks.route(req.get(TEST_CLOCK_HEADER), namedRecord(req.path));
    res.locals.world = world;
    res.setHeader('Date', new Date(world.gateway.now).toUTCString());
    next();
  });

  const api = express.Router();
  api.use((req, res, next) => {
    const { faults } = worldOf(res);
    if (faults.failNext > 0 || (faults.failShare > 0 && Math.random() < faults.failShare)) {
      faults.failNext = Math.max(0, faults.failNext - 1);
      return fail(res, faults.failStatus, 'service_unavailable', 'injected fault: not processed');
    }
    if (req.get('Api-Access-Token') !== token)
      return fail(res, 401, 'unauthorized', 'invalid Api-Access-Token');
    next();
  });

  api.post('/order', (req, res) => {
    const parsed = CreateInput.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(res, 400, 'validation_error', `${issue?.path.join('.')}: ${issue?.message}`);
    }
    const { order, customer, payer } = parsed.data;
    const { gateway } = worldOf(res);
    if (String(parsed.data.shopId) !== shopId) return fail(res, 403, 'forbidden', 'unknown shopId');
    if (gateway.has(order.orderNumber)) return fail(res, 409, 'duplicate', 'orderNumber already exists');
    const card = payer?.cardData;
    gateway.create({
      orderNumber: order.orderNumber,
      customerId: customer.customerId,
      amount: order.cost.amount,
      currency: order.cost.currency,
      intervalType: order.recurringPayments.intervalType,
      billingIntervalQuantity: order.recurringPayments.billingIntervalQuantity,
      paymentCount: order.recurringPayments.paymentCount ?? null,
      endDate:
        order.recurringPayments.endDate === undefined ? null : Date.parse(order.recurringPayments.endDate),
      // A bound card's number is the gateway's own; the emulator shows a test card's.
      card: card ? { number: card.cardNumber ?? '4111111111111111' } : null,
    });
    // The hosted page: the customer pays there, and the order bills from then on.
    res.json({
      data: {
        orderNumber: order.orderNumber,
        ...(card ? {} : { paymentLink: `${url}/pay/${encodeURIComponent(order.orderNumber)}` }),
      },
    });
  });

  api.get('/order/:shopId/:orderNumber', (req, res) => {
    const { orderNumber } = req.params as { orderNumber: string; shopId: string };
    const { gateway } = worldOf(res);
    if (req.params.shopId !== shopId || !gateway.has(orderNumber))
      return fail(res, 404, 'not_found', 'order not found');
    res.json({ data: gateway.order(orderNumber) });
  });

  api.get('/recurring/:id', (req, res) => {
    const recurring = worldOf(res).gateway.recurring(String(req.params.id));
    if (!recurring) return fail(res, 404, 'not_found', 'recurring not found');
    res.json({ data: recurring });
  });

  api.delete('/recurring/:id', (req, res) => {
    const id = String(req.params.id);
    const outcome = worldOf(res).gateway.cancel(id);
    if (outcome === 'missing') return fail(res, 404, 'not_found', 'recurring not found');
    if (outcome !== 'ok') return fail(res, 409, 'conflict', `recurring is ${outcome}`);
    res.json({ data: { recurringId: id, status: 'canceled' } });
  });

  const control = express.Router();
  control.get('/clock', (_req, res) => void res.json({ now: worldOf(res).gateway.now }));
  control.post('/clock/advance', (req, res) => {
    const ms = Number((req.body as { ms?: unknown } | undefined)?.ms);
    if (!Number.isInteger(ms) || ms < 0)
      return fail(res, 400, 'validation_error', 'ms: a non-negative integer');
    const { gateway } = worldOf(res);
    gateway.advance(ms);
    res.json({ now: gateway.now });
  });
  control.post('/cards', (req, res) => {
    const body = (req.body ?? {}) as { approve?: unknown; orderNumber?: unknown };
    if (typeof body.approve !== 'boolean') return fail(res, 400, 'validation_error', 'approve: a boolean');
    const target = typeof body.orderNumber === 'string' ? body.orderNumber : undefined;
    if (!worldOf(res).gateway.setApprove(body.approve, target))
      return fail(res, 404, 'not_found', 'order not found');
    res.json({ approve: body.approve, orderNumber: target ?? null });
  });
  control.post('/faults', (req, res) => {
    const parsed = FaultsInput.safeParse(req.body ?? {});
    if (!parsed.success) return fail(res, 400, 'validation_error', parsed.error.message);
    const { faults } = worldOf(res);
    Object.assign(faults, parsed.data);
    res.json(faults);
  });
  control.get('/notifications', (req, res) => {
    const orderNumber = typeof req.query.orderNumber === 'string' ? req.query.orderNumber : undefined;
    res.json({
      notifications: worldOf(res).log.filter(
        (n) => orderNumber === undefined || n.orderNumber === orderNumber,
      ),
    });
  });
  control.get('/orders', (_req, res) => void res.json({ orderNumbers: worldOf(res).gateway.orderNumbers() }));

  // The hosted payment page: a POST stands for the customer paying there with a card.
  app.post('/pay/:orderNumber', (req, res) => {
    const outcome = worldOf(res).gateway.payOnPage(String(req.params.orderNumber));
    if (outcome === 'missing') return fail(res, 404, 'not_found', 'order not found');
    if (outcome !== 'ok') return fail(res, 409, 'conflict', `order is ${outcome}`);
    res.json({ data: { orderNumber: req.params.orderNumber } });
  });

  app.use('/api/v1', api);
  app.use('/_emulator', control);
  app.use((_req: Request, res: Response) => fail(res, 404, 'not_found', 'no such route'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof TestClockError) return fail(res, err.status, err.code, err.message);
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return fail(res, status, 'bad_request', String(err));
    fail(res, 500, 'internal_error', String(err));
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host ?? '127.0.0.1', (err?: Error) =>
      err ? reject(err) : resolve(s),
    );
  });
  const { port } = server.address() as AddressInfo;
  const host =
    options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    gateway,
    env: {
      MADFINTECH_API_URL: `${url}/api/v1`,
      MADFINTECH_API_TOKEN: token,
      MADFINTECH_SHOP_ID: shopId,
      MADFINTECH_CALLBACK_SECRET: secret,
    },
    /** Its test clocks, each a world of its own (`/_emulator/test_clocks`). */
    testClocks: clocks,
    close: async (): Promise<void> => {
      clocks.close();
      main.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

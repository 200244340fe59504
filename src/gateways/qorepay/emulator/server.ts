/**
 * The QorePay emulator over HTTP: the API the adapter uses under `/api/v1` (bearer token
 * checked as QorePay would), and a control API under `/_emulator` (clock, cards, faults, the
 * notification log, test clocks) for tests and demos. Each request is served by one world: a test
 * clock's when it names one in {@link TEST_CLOCK_HEADER}, else the main world (or, for an API
 * call, the world holding the record it names).
 */
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { GatewayEmulatorHandle, GatewayEnv } from '../../port';
import { SUBSCRIBER_STATUSES } from '../wire';
import { BillingError } from './billing';
import {
  recordsNamed,
  TEST_CLOCK_HEADER,
  TestClockError,
  TestClockWorlds,
  testClockRouter,
} from './test-clocks';
import { createWorld, type World } from './world';

export const API_PREFIX = '/api/v1';
const PAGE_SIZE = 50;

/** A decimal as seed 003 writes it: a number, or a string such as `"15.00"`. */
const decimal = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?$/)]);

/** A product line: the fields the seed shows (others it may carry are kept as given). */
const productLine = z.looseObject({
  name: z.string().min(1),
  price: z.number().int().nonnegative(),
  quantity: z.union([z.string().regex(/^\d+(\.\d+)?$/), z.number().positive()]).default('1'),
  discount: z.number().int().nonnegative().optional(),
  tax_percent: decimal.optional(),
});

/** Purchase terms (a template's, or a subscriber's `invoice_override`). */
const purchaseTerms = z.looseObject({
  products: z.array(productLine).min(1).optional(),
  total_override: z.number().int().nonnegative().nullable().optional(),
});

/**
 * A subscription template: seed 003's "minimum fields" are required (a missing one is a 400 naming
 * it); every other field of its example is taken and kept.
 */
const templateInput = z.looseObject({
  brand_id: z.string().min(1),
  title: z.string().min(1).max(256),
  is_subscription: z.boolean(),
  purchase: purchaseTerms.extend({
    currency: z.string().regex(/^[A-Z]{3}$/),
    products: z.array(productLine).min(1),
  }),
  subscription_period: z.number().int().positive(),
  subscription_period_units: z.enum(['days', 'weeks', 'months']),
  subscription_due_period: z.number().int().nonnegative(),
  subscription_due_period_units: z.enum(['days', 'weeks']),
  subscription_charge_period_end: z.boolean(),
  subscription_trial_periods: z.number().int().nonnegative(),
  subscription_active: z.boolean(),
  invoice_send_receipt: z.boolean().optional(),
});
const addSubscriberInput = z.object({
  client_id: z.string().min(1),
  send_invoice_on_charge_failure: z.boolean().default(true),
  invoice_override: purchaseTerms.optional(),
});
/** A subscriber's status (pause, resume, cancel) and/or its billing details (seed 003's PATCH). */
const patchSubscriberInput = z
  .object({
    status: z.enum(SUBSCRIBER_STATUSES).optional(),
    invoice_override: purchaseTerms.nullable().optional(),
    send_invoice_on_charge_failure: z.boolean().optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'nothing to change');
const sendInvoiceInput = z.object({ client_id: z.string().min(1) });
const faultsInput = z.object({
  apiFailRate: z.number().min(0).max(1).optional(),
  apiFailNext: z.number().int().nonnegative().optional(),
  apiFailSkip: z.number().int().nonnegative().optional(),
  apiFailStatus: z.number().int().min(500).max(599).optional(),
  dropRate: z.number().min(0).max(1).optional(),
  duplicateRate: z.number().min(0).max(1).optional(),
  delayRate: z.number().min(0).max(1).optional(),
  delayMs: z.number().int().nonnegative().max(60_000).optional(),
  /** 1: refuse the status `subscription_cancelled` (seed 003 documents only `active` and paused). */
  refuseCancelStatus: z.number().int().min(0).max(1).optional(),
});

export interface QorepayEmulatorOptions {
  port: number;
  host?: string;
  notifyUrl?: string;
  /** Emulator time at start. @default the real now */
  startMs?: number;
}

export async function startQorepayEmulator(
  options: QorepayEmulatorOptions,
): Promise<GatewayEmulatorHandle & { env: GatewayEnv }> {
  const token = randomBytes(24).toString('base64url');
  const brandId = randomUUID();
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const notifyUrl = options.notifyUrl || undefined;
  const worlds = new TestClockWorlds(
    createWorld({ notifyUrl, key: privateKey, startMs: options.startMs }),
    (id, frozenMs) => createWorld({ notifyUrl, key: privateKey, startMs: frozenMs, testClockId: id }),
  );
  /** The world a request was routed to (set by the control API's and the API's first handler). */
  const worldOf = (res: Response): World => res.locals.world as World;

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  // Control API (no authentication: it is the emulator's own, not QorePay's). With the test clock
  // header, every call below is the clock's world's: `/clock/advance` too, which moves the clock
  // as the main one's does, without awaiting deliveries (`/test_clocks/:id/advance` awaits them).
  app.use('/_emulator/test_clocks', testClockRouter(worlds));
  const control = express.Router();
  control.use((req, res, next) => {
    res.locals.world = worlds.world(req.get(TEST_CLOCK_HEADER));
    next();
  });
  control.get('/clock', (_req, res) => void res.json({ now: worldOf(res).billing.now() }));
  control.post('/clock/advance', (req, res) => {
    const { billing } = worldOf(res);
    const body = z.object({ ms: z.number().int().nonnegative() }).parse(req.body);
    billing.advanceTo(billing.now() + body.ms);
    res.json({ now: billing.now() });
  });
  control.post('/cards', (req, res) => {
    const { billing } = worldOf(res);
    const body = z
      .object({ approve: z.boolean(), subscriptionId: z.string().min(1).optional() })
      .parse(req.body);
    if (body.subscriptionId) billing.approve.set(body.subscriptionId, body.approve);
    else {
      billing.approveAll = body.approve;
      billing.approve.clear();
    }
    res.json({ approveAll: billing.approveAll, overrides: Object.fromEntries(billing.approve) });
  });
  control.get('/faults', (_req, res) => void res.json(worldOf(res).faults));
  control.post('/faults', (req, res) => {
    const { faults } = worldOf(res);
    Object.assign(faults, faultsInput.parse(req.body));
    res.json(faults);
  });
  control.get('/notifications', (_req, res) => void res.json(worldOf(res).notifier.list()));
  control.get('/state', (_req, res) => {
    const { billing } = worldOf(res);
    res.json({
      templates: [...billing.templates.values()],
      // With what QorePay alone would know: whether it emailed the customer a receipt.
      purchases: [...billing.purchases.values()].map((p) => ({
        ...p,
        receipt_sent: billing.receipts.get(p.id) ?? false,
      })),
      subscribers: [...billing.templates.keys()].flatMap((id) => billing.subscribersOf(id)),
    });
  });
  app.use('/_emulator', control);

  // QorePay's API.
  const api = express.Router();
  api.use((req: Request, res: Response, next: NextFunction) => {
    // Seed 003 shows the token both with `Bearer ` and without.
    const header = req.get('authorization') ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice('Bearer '.length) : header);
    const expected = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.status(401).json({ __all__: [{ code: 'authentication_failed', message: 'Invalid token' }] });
      return;
    }
    // The clock named, else the world holding the record named (so only a call naming no record,
    // a creation or a list by title, needs the header); that world's faults apply.
    const clock = req.get(TEST_CLOCK_HEADER);
    const world =
      clock !== undefined && clock !== ''
        ? worlds.world(clock)
        : worlds.worldHolding(recordsNamed(req.path, req.query));
    res.locals.world = world;
    const { faults } = world;
    // `apiFailSkip` calls pass first, then `apiFailNext` fail; `apiFailRate` fails a share of all.
    const queued = faults.apiFailNext > 0 && faults.apiFailSkip === 0;
    if (faults.apiFailNext > 0 && faults.apiFailSkip > 0) faults.apiFailSkip -= 1;
    if (queued || (faults.apiFailRate > 0 && Math.random() < faults.apiFailRate)) {
      if (queued) faults.apiFailNext -= 1;
      res
        .status(faults.apiFailStatus)
        .json({ __all__: [{ code: 'unavailable', message: 'Injected fault' }] });
      return;
    }
    next();
  });
  api.get('/public_key', (_req, res) => void res.json(publicPem));
  api.get('/billing_templates', (req, res) => {
    const { billing } = worldOf(res);
    const title = typeof req.query.title === 'string' ? req.query.title : undefined;
    const all = [...billing.templates.values()].filter((t) => title === undefined || t.title === title);
    res.json(page(req, all));
  });
  api.post('/billing_templates', (req, res) => {
    const { billing } = worldOf(res);
    const input = templateInput.parse(req.body);
    if (input.brand_id !== brandId) throw new BillingError(400, 'brand_id', 'Unknown brand');
    res.status(201).json(billing.createTemplate(input));
  });
  api.get(
    '/billing_templates/:id',
    (req, res) => void res.json(worldOf(res).billing.template(req.params.id as string)),
  );
  api.put('/billing_templates/:id', (req, res) => {
    const { billing } = worldOf(res);
    const input = templateInput.parse(req.body);
    if (input.brand_id !== brandId) throw new BillingError(400, 'brand_id', 'Unknown brand');
    res.json(billing.replaceTemplate(req.params.id as string, input));
  });
  api.get(
    '/billing_templates/:id/clients',
    (req, res) => void res.json(page(req, worldOf(res).billing.subscribersOf(req.params.id as string))),
  );
  api.post('/billing_templates/:id/add_subscriber', (req, res) => {
    const { billing } = worldOf(res);
    const input = addSubscriberInput.parse(req.body);
    const s = billing.addSubscriber(
      req.params.id as string,
      input.client_id,
      input.send_invoice_on_charge_failure,
      input.invoice_override,
    );
    res.status(201).json(s);
  });
  api.post('/billing_templates/:id/send_invoice', (req, res) => {
    const { billing } = worldOf(res);
    const { client_id: clientId } = sendInvoiceInput.parse(req.body);
    res.status(201).json(billing.sendInvoice(req.params.id as string, clientId));
  });
  api.get(
    '/billing_templates/:id/clients/:client',
    (req, res) =>
      void res.json(worldOf(res).billing.subscriber(req.params.id as string, req.params.client as string)),
  );
  api.patch('/billing_templates/:id/clients/:client', (req, res) => {
    const { billing, faults } = worldOf(res);
    const { status, ...details } = patchSubscriberInput.parse(req.body);
    if (status === 'subscription_cancelled' && faults.refuseCancelStatus)
      throw new BillingError(400, 'status', '"subscription_cancelled" is not a valid choice.');
    const [templateId, clientId] = [req.params.id as string, req.params.client as string];
    let subscriber = billing.amendSubscriber(templateId, clientId, details);
    if (status !== undefined) subscriber = billing.setStatus(templateId, clientId, status);
    res.json(subscriber);
  });
  api.get('/purchases', (req, res) => {
    const { billing } = worldOf(res);
    const { billing_template_id: t, client_id: c } = req.query;
    const all = [...billing.purchases.values()]
      .filter(
        (p) => (t === undefined || p.billing_template_id === t) && (c === undefined || p.client_id === c),
      )
      .sort((a, b) => a.created_on - b.created_on);
    res.json(page(req, all));
  });
  api.get('/purchases/:id', (req, res) => {
    const { billing } = worldOf(res);
    const p = billing.purchases.get(req.params.id as string);
    if (!p) throw new BillingError(404, 'id', 'No such purchase');
    res.json(p);
  });
  app.use(API_PREFIX, api);

  app.use((_req: Request, res: Response) => void res.status(404).json({ __all__: [{ code: 'not_found' }] }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof BillingError) res.status(err.status).json({ [err.field]: [err.message] });
    else if (err instanceof TestClockError)
      res.status(err.status).json({ __all__: [{ code: err.code, message: err.message }] });
    else if (err instanceof z.ZodError)
      res
        .status(400)
        .json(Object.fromEntries(err.issues.map((i) => [i.path.join('.') || '__all__', [i.message]])));
    else if ((err as { type?: string }).type === 'entity.parse.failed')
      res.status(400).json({ __all__: ['Malformed JSON'] });
    else res.status(500).json({ __all__: [String(err)] });
  });

  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  return {
    url,
    env: {
      QOREPAY_API_URL: `${url}${API_PREFIX}`,
      QOREPAY_API_KEY: token,
      QOREPAY_BRAND_ID: brandId,
      QOREPAY_WEBHOOK_PUBLIC_KEY: publicPem,
    },
    async close() {
      worlds.main.notifier.close();
      worlds.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One page of a list, with an absolute `next` link. */
function page<T>(req: Request, items: T[]): { results: T[]; next: string | null; previous: string | null } {
  const n = Math.max(1, Number(req.query.page) || 1);
  const next = new URL(req.originalUrl, `${req.protocol}://${req.get('host') ?? 'localhost'}`);
  next.searchParams.set('page', String(n + 1));
  return {
    results: items.slice((n - 1) * PAGE_SIZE, n * PAGE_SIZE),
    next: items.length > n * PAGE_SIZE ? next.toString() : null,
    previous: null,
  };
}

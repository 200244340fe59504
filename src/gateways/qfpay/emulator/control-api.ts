/**
 * The emulator-only API under `/_emulator` (and its older path `/_sandbox`): payment tokens
 * (QFPay makes them in the browser), token charge behaviour, pause/resume, the test clock, faults,
 * inspection and reset. JSON in and out; errors are `{ error: { type, message } }` with an HTTP
 * status.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { parseQfpayTime } from '../time';
import { normaliseCardNumber, parseExpiryDate } from './cards';
import { ClockError } from './clock';
import { DEFAULT_DECLINE_RESPCD, paidCycles } from './engine';
import { EmulatorRequestError } from './errors';
import { faultConfigUpdateSchema } from './faults';
import type { NotificationRecord, PaymentToken, Subscription } from './model';
import type { QfpayEmulator } from './emulator';
import type { TestClockWorlds } from './test-clocks';
import { testClockRoutes } from '../../emulator-test-clocks';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The full truth about a subscription, for tests and people. */
export function subscriptionView(emulator: QfpayEmulator, sub: Subscription): Record<string, unknown> {
  return {
    subscription_id: sub.subscriptionId,
    customer_id: sub.customerId,
    token_id: sub.tokenId,
    state: sub.state,
    products: sub.products.map((line) => {
      const product = emulator.store.products.get(line.productId);
      return {
        product_id: line.productId,
        quantity: line.quantity,
        txamt: product?.txamt ?? null,
        txcurrcd: product?.txcurrcd ?? null,
      };
    }),
    interval: sub.interval,
    total_billing_cycles: sub.totalBillingCycles,
    completed_billing_iteration: paidCycles(sub),
    cycle_index: sub.cycleIndex,
    created_at: iso(sub.createdAt),
    start_time: iso(sub.startTime),
    next_billing_time: iso(sub.nextBillingTime),
    last_billing_time: iso(sub.lastBillingTime),
    last_billing_status: sub.lastBillingStatus,
    retry_attempts: sub.retryAttempts,
    pending_retry: sub.pendingRetry && {
      subscription_order_id: sub.pendingRetry.subscriptionOrderId,
      at: iso(sub.pendingRetry.at),
      retry_number: sub.pendingRetry.retryNumber,
    },
    pending_charge: sub.pendingCharge && {
      subscription_order_id: sub.pendingCharge.subscriptionOrderId,
      at: iso(sub.pendingCharge.at),
      requested_at: iso(sub.pendingCharge.requestedAt),
    },
    orders: sub.orders.map((order) => ({
      subscription_order_id: order.subscriptionOrderId,
      sequence_no: order.sequenceNo,
      cycle_index: order.cycleIndex,
      status: order.status,
      billing_time: iso(order.billingTime),
      deadline: iso(order.deadline),
      txamt: order.txamt,
      txcurrcd: order.txcurrcd,
      paid_at: iso(order.paidAt),
      trigger_by: order.attempts[order.attempts.length - 1]?.trigger ?? null,
      attempts: order.attempts.map((a) => ({
        at: iso(a.at),
        trigger: a.trigger,
        kind: a.kind,
        approved: a.approved,
        respcd: a.respcd,
        respmsg: a.respmsg,
        syssn: a.syssn,
        txamt: a.txamt,
        txcurrcd: a.txcurrcd,
      })),
    })),
    history: sub.history.map((h) => ({ at: iso(h.at), from: h.from, to: h.to, reason: h.reason })),
  };
}

function tokenView(token: PaymentToken, event?: string): Record<string, unknown> {
  return {
    token_id: token.tokenId,
    ...(event !== undefined && { event }),
    customer_id: token.customerId,
    cardcd: token.cardcd,
    card_scheme: token.cardScheme,
    token_expiry_date: token.tokenExpiryDate,
    holder_name: token.holderName ?? null,
    behaviour: token.behaviour,
    planned_behaviours: (token.planned ?? []).map((p) => ({ from: iso(p.fromMs), ...p.behaviour })),
  };
}

function notificationView(record: NotificationRecord): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(record.body);
  } catch {
    payload = null;
  }
  return {
    id: record.id,
    notify_type: record.notifyType,
    subscription_id: record.subscriptionId ?? null,
    customer_id: record.customerId ?? null,
    token_id: record.tokenId ?? null,
    created_at: iso(record.createdAt),
    status: record.status,
    fault: record.fault ?? null,
    duplicate_of: record.duplicateOf ?? null,
    next_attempt_at: iso(record.nextAttemptAt),
    body: record.body,
    payload,
    attempts: record.attempts.map((a) => ({
      at: iso(a.at),
      ok: a.ok,
      http_status: a.httpStatus,
      ...(a.responseBody !== undefined && { response_body: a.responseBody }),
      ...(a.error !== undefined && { error: a.error }),
    })),
  };
}

function clockView(emulator: QfpayEmulator): Record<string, unknown> {
  const snapshot = emulator.clock.snapshot();
  return {
    now: iso(snapshot.nowMs),
    nowMs: snapshot.nowMs,
    frozen: snapshot.frozen,
    timeScale: snapshot.timeScale,
  };
}

const timeText = z.string().min(1);

const advanceSchema = z.union([
  z.object({ ms: z.number().int().min(0) }).strict(),
  z.object({ to: timeText }).strict(),
]);

const clockSchema = z
  .object({ timeScale: z.number().positive().optional(), frozen: z.boolean().optional() })
  .strict();

const tokenSchema = z
  .object({
    customer_id: z.string().min(1),
    card_number: z.string().min(1),
    expiry_date: z.string().min(1).optional(),
    holder_name: z.string().min(1).optional(),
  })
  .strict();

const behaviourSchema = z
  .object({
    charges: z.enum(['approve', 'decline']),
    respcd: z
      .string()
      .regex(/^\d{4}$/)
      .refine((code) => code !== '0000', 'a decline needs a respcd other than 0000')
      .optional(),
    /** From this time on (the world's clock); absent: from now. */
    from: timeText.optional(),
  })
  .strict();

const resetSchema = z
  .object({ now: timeText.optional(), frozen: z.boolean().optional() })
  .strict()
  .optional();

const configSchema = z.object({ notifyUrl: z.union([z.url(), z.literal(''), z.null()]) }).strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new EmulatorRequestError(400, 'invalid_request', z.prettifyError(result.error), {
      cause: result.error,
    });
  }
  return result.data;
}

function timeMs(emulator: QfpayEmulator, text: string, field: string): number {
  const ms = parseQfpayTime(text, emulator.timeOffset);
  if (ms === undefined)
    throw new EmulatorRequestError(400, 'invalid_request', `${field} is not a time: "${text}"`);
  return ms;
}

function queryString(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const testClockSchema = z.object({ id: z.string(), frozen_time: timeText }).strict();
const testClockAdvanceSchema = z.object({ to: timeText }).strict();

/** Answers an emulator-only error with its status, and a clock moved backwards with a 400. */
function controlErrors(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (error instanceof EmulatorRequestError) {
    res.status(error.status).json({ error: { type: error.type, message: error.message } });
  } else if (error instanceof ClockError) {
    res.status(400).json({ error: { type: error.type, message: error.message } });
  } else {
    next(error);
  }
}

/**
 * The test clocks' routes (mounted at `/_emulator/test_clocks`): make one frozen at a time, read
 * it (its time and the next moment anything on it is due), advance it to a time (everything due
 * on it on the way, in time order, its notifications delivered), and remove it. What lives on a
 * clock is made through QFPay's endpoints and the control API with the clock's header.
 */
export function testClockRouter(worlds: TestClockWorlds, main: QfpayEmulator): Router {
  const router = express.Router();
  router.use(express.json({ limit: '64kb' }));
  router.use(
    testClockRoutes(worlds, {
      create: (body) => {
        const input = parse(testClockSchema, body);
        return { id: input.id, frozenMs: timeMs(main, input.frozen_time, 'frozen_time') };
      },
      advance: (body) => ({ toMs: timeMs(main, parse(testClockAdvanceSchema, body).to, 'to') }),
    }),
  );
  router.use(controlErrors);
  return router;
}

/** The control API's router (mounted at `/_emulator`, and at `/_sandbox` for older clients). */
export function controlRouter(emulator: QfpayEmulator): Router {
  const router = express.Router();
  router.use(express.json({ limit: '1mb' }));
  // Every control call sees state as of now.
  router.use((_req, _res, next) => {
    emulator.runtime.catchUp();
    next();
  });

  router.get('/clock', (_req, res) => {
    res.json(clockView(emulator));
  });

  router.post('/clock', (req, res) => {
    const change = parse(clockSchema, req.body ?? {});
    if (change.timeScale !== undefined) emulator.clock.setTimeScale(change.timeScale);
    if (change.frozen !== undefined) emulator.clock.setFrozen(change.frozen);
    emulator.touch();
    emulator.runtime.requestRun();
    res.json(clockView(emulator));
  });

  router.post('/clock/advance', async (req, res) => {
    const body = parse(advanceSchema, req.body ?? {});
    const target = 'ms' in body ? { ms: body.ms } : { to: timeMs(emulator, body.to, 'to') };
    const result = await emulator.runtime.advance(target);
    emulator.touch();
    res.json({
      ...clockView(emulator),
      from: iso(result.fromMs),
      processed: { stateEvents: result.stateEvents, deliveryAttempts: result.deliveryAttempts },
    });
  });

  router.get('/faults', (_req, res) => {
    res.json(emulator.faults.config);
  });

  router.post('/faults', (req, res) => {
    res.json(emulator.faults.update(parse(faultConfigUpdateSchema, req.body ?? {})));
  });

  router.delete('/faults', (_req, res) => {
    res.json(emulator.faults.reset());
  });

  router.get('/config', (_req, res) => {
    res.json({
      notifyUrl: emulator.notifier.url ?? null,
      appCode: emulator.appCode,
      timeOffset: emulator.timeOffset,
    });
  });

  router.post('/config', (req, res) => {
    const { notifyUrl } = parse(configSchema, req.body ?? {});
    emulator.notifier.setNotifyUrl(notifyUrl ?? undefined);
    res.json({
      notifyUrl: emulator.notifier.url ?? null,
      appCode: emulator.appCode,
      timeOffset: emulator.timeOffset,
    });
  });

  router.post('/tokens', (req, res) => {
    const body = parse(tokenSchema, req.body ?? {});
    const cardNumber = normaliseCardNumber(body.card_number);
    if (cardNumber === undefined) {
      throw new EmulatorRequestError(400, 'invalid_request', 'card_number must be 12 to 19 digits');
    }
    const expiry = body.expiry_date === undefined ? undefined : parseExpiryDate(body.expiry_date);
    if (body.expiry_date !== undefined && expiry === undefined) {
      throw new EmulatorRequestError(
        400,
        'invalid_request',
        'expiry_date must look like MM/YY, MM/YYYY or YYYY-MM',
      );
    }
    const { token, event } = emulator.engine.createToken({
      customerId: body.customer_id,
      cardNumber,
      ...(expiry !== undefined && { expiry }),
      ...(body.holder_name !== undefined && { holderName: body.holder_name }),
    });
    emulator.runtime.requestRun();
    res.status(event === 'NEW' ? 201 : 200).json(tokenView(token, event));
  });

  router.get('/tokens', (req, res) => {
    const customerId = queryString(req, 'customer_id');
    const tokens = [...emulator.store.tokens.values()].filter(
      (t) => customerId === undefined || t.customerId === customerId,
    );
    res.json({ data: tokens.map((t) => tokenView(t)) });
  });

  router.get('/tokens/:id', (req, res) => {
    const token = emulator.store.tokens.get(req.params.id);
    if (token === undefined)
      throw new EmulatorRequestError(404, 'token_not_found', `token ${req.params.id} does not exist`);
    res.json(tokenView(token));
  });

  router.post('/tokens/:id/behaviour', (req, res) => {
    const body = parse(behaviourSchema, req.body ?? {});
    const fromMs = body.from === undefined ? undefined : timeMs(emulator, body.from, 'from');
    if (fromMs !== undefined && fromMs < emulator.clock.now())
      throw new EmulatorRequestError(
        400,
        'invalid_request',
        `from (${new Date(fromMs).toISOString()}) is before the clock's now (${new Date(emulator.clock.now()).toISOString()})`,
      );
    const token = emulator.engine.setTokenBehaviour(
      req.params.id,
      body.charges === 'approve'
        ? { charges: 'approve' }
        : { charges: 'decline', respcd: body.respcd ?? DEFAULT_DECLINE_RESPCD },
      fromMs,
    );
    res.json(tokenView(token));
  });

  router.get('/subscriptions', (req, res) => {
    const state = queryString(req, 'state')?.toUpperCase();
    const customerId = queryString(req, 'customer_id');
    const subs = [...emulator.store.subscriptions.values()].filter(
      (s) =>
        (state === undefined || s.state === state) &&
        (customerId === undefined || s.customerId === customerId),
    );
    res.json({ data: subs.map((s) => subscriptionView(emulator, s)) });
  });

  router.get('/subscriptions/:id', (req, res) => {
    res.json(subscriptionView(emulator, emulator.engine.subscriptionForControl(req.params.id)));
  });

  router.post('/subscriptions/:id/pause', (req, res) => {
    const sub = emulator.engine.pauseSubscription(req.params.id);
    emulator.runtime.requestRun();
    res.json(subscriptionView(emulator, sub));
  });

  router.post('/subscriptions/:id/resume', (req, res) => {
    const sub = emulator.engine.resumeSubscription(req.params.id);
    emulator.runtime.requestRun();
    res.json(subscriptionView(emulator, sub));
  });

  router.get('/charges', (req, res) => {
    const subscriptionId = queryString(req, 'subscription_id');
    const charges = [];
    for (const sub of emulator.store.subscriptions.values()) {
      if (subscriptionId !== undefined && sub.subscriptionId !== subscriptionId) continue;
      for (const order of sub.orders) {
        for (const a of order.attempts) {
          charges.push({
            at: a.at,
            row: {
              at: iso(a.at),
              subscription_id: sub.subscriptionId,
              subscription_order_id: order.subscriptionOrderId,
              sequence_no: order.sequenceNo,
              trigger: a.trigger,
              kind: a.kind,
              approved: a.approved,
              respcd: a.respcd,
              syssn: a.syssn,
              txamt: a.txamt,
              txcurrcd: a.txcurrcd,
            },
          });
        }
      }
    }
    charges.sort((a, b) => a.at - b.at);
    res.json({ data: charges.map((c) => c.row) });
  });

  router.get('/notifications', (req, res) => {
    const records = emulator.notifier.list({
      ...optional('subscriptionId', queryString(req, 'subscription_id')),
      ...optional('customerId', queryString(req, 'customer_id')),
      ...optional('tokenId', queryString(req, 'token_id')),
      ...optional('notifyType', queryString(req, 'notify_type')),
      ...optional('status', queryString(req, 'status')),
    });
    res.json({ data: records.map(notificationView), suppressed: emulator.notifier.suppressed });
  });

  router.post('/reset', (req, res) => {
    const body = parse(resetSchema, req.body ?? {}) ?? {};
    emulator.reset({
      ...(body.now !== undefined && { nowMs: timeMs(emulator, body.now, 'now') }),
      ...(body.frozen !== undefined && { frozen: body.frozen }),
    });
    res.json({ reset: true, clock: clockView(emulator) });
  });

  router.use(controlErrors);

  return router;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

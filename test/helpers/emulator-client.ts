/**
 * Test helpers for the QFPay emulator: a client that signs form requests exactly as
 * QFPay expects (through `src/gateways/qfpay/signing.ts`), a notification receiver that answers
 * `SUCCESS` or fails on demand, and a one-call set-up of both around an in-process emulator
 * with a frozen clock.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, beforeEach } from 'node:test';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { signRequest, wireParams, type ParamValue, type SignType } from '../../src/gateways/qfpay/signing';
import { TEST_CLOCK_HEADER } from '../../src/gateways/qfpay/emulator/test-clocks';
import {
  startQfpayEmulator,
  type QfpayEmulatorHandle,
  type QfpayEmulatorOptions,
} from '../../src/gateways/qfpay/emulator/server';
export { MINUTE, HOUR, DAY } from '../../src/domain/duration';

/** Credentials the test emulators use. */
export const TEST_APP_CODE = 'test-emulator-app';
export const TEST_APP_KEY = 'test-emulator-key-0123456789';

/** 2025-01-15 10:00:00 in Hong Kong: a fixed, readable start for frozen-clock tests. */
export const TEST_START = Date.parse('2025-01-15T02:00:00Z');

/** A QFPay envelope as the tests read it. */
export interface Envelope<T = unknown> {
  respcd: string;
  respmsg: string;
  resperr: string;
  data: T;
  page?: number;
  page_size?: number;
}

/** How to sign (or mis-sign) one call. */
export interface CallOptions {
  signType?: SignType;
  /** Send `X-QF-SIGNTYPE` even for MD5. */
  sendSignType?: boolean;
  /** `null` leaves the header out. */
  appCode?: string | null;
  /** Sign with this key instead of the right one. */
  appKey?: string;
  /** Send this signature instead (`null`: no `X-QF-SIGN` header). */
  sign?: string | null;
}

/** A JSON answer of the control API. */
export interface ControlReply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** Signs and sends QFPay calls, and drives the `/_emulator` control API. */
export class EmulatorTestClient {
  constructor(
    readonly baseUrl: string,
    readonly appCode: string = TEST_APP_CODE,
    readonly appKey: string = TEST_APP_KEY,
    /** The test clock every call is for (the emulator-only header), or none: the main world. */
    readonly testClock?: string,
  ) {}

  /** The same client, for what lives on test clock `id`. */
  onClock(id: string): EmulatorTestClient {
    return new EmulatorTestClient(this.baseUrl, this.appCode, this.appKey, id);
  }

  private clockHeader(): Record<string, string> {
    return this.testClock === undefined ? {} : { [TEST_CLOCK_HEADER]: this.testClock };
  }

  /** Sends a signed form request to a QFPay endpoint; returns the HTTP status and the parsed body. */
  async call<T = unknown>(
    path: string,
    params: Record<string, ParamValue> = {},
    options: CallOptions = {},
  ): Promise<{ status: number; body: Envelope<T> }> {
    const wire = wireParams(params);
    const signType = options.signType ?? 'MD5';
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...this.clockHeader(),
    };
    const appCode = options.appCode === undefined ? this.appCode : options.appCode;
    if (appCode !== null) headers['X-QF-APPCODE'] = appCode;
    const sign =
      options.sign === undefined ? signRequest(wire, options.appKey ?? this.appKey, signType) : options.sign;
    if (sign !== null) headers['X-QF-SIGN'] = sign;
    if (signType !== 'MD5' || options.sendSignType) headers['X-QF-SIGNTYPE'] = signType;
    const response = await fetch(this.baseUrl + path, {
      method: 'POST',
      headers,
      body: new URLSearchParams(wire).toString(),
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as Envelope<T> };
  }

  /** Sends a signed call and fails the test unless QFPay answered `0000`. */
  async ok<T = Record<string, unknown>>(path: string, params: Record<string, ParamValue> = {}): Promise<T> {
    const { status, body } = await this.call<T>(path, params);
    if (status !== 200 || body.respcd !== '0000') {
      throw new Error(`${path} answered HTTP ${status} ${JSON.stringify(body)}`);
    }
    return body.data;
  }

  /** Calls the control API. */
  async control<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<ControlReply<T>> {
    const response = await fetch(`${this.baseUrl}/_emulator${path}`, {
      method,
      headers: { ...this.clockHeader(), ...(body !== undefined && { 'Content-Type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  }

  /** Advances the emulator clock over HTTP; resolves after everything due was processed. */
  async advance(by: { ms: number } | { to: string }): Promise<Record<string, unknown>> {
    const reply = await this.control('POST', '/clock/advance', by);
    if (reply.status !== 200) throw new Error(`advance failed: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  async createCustomer(
    fields: Record<string, ParamValue> = { name: 'Ada Lovelace', email: 'ada@example.com' },
  ) {
    return (await this.ok<{ customer_id: string }>('/customer/v1/create', fields)).customer_id;
  }

  async createProduct(fields: Record<string, ParamValue> = {}) {
    const params = {
      name: 'Monthly plan',
      type: 'recurring',
      txamt: 300,
      txcurrcd: 'HKD',
      interval: 'monthly',
      interval_count: 1,
      ...fields,
    };
    return (await this.ok<{ product_id: string }>('/product/v1/create', params)).product_id;
  }

  /** Tokenises a card through the emulator-only API. */
  async createToken(customerId: string, cardNumber = '5200000000001096', extra: Record<string, string> = {}) {
    const reply = await this.control<{ token_id: string; event: string }>('POST', '/tokens', {
      customer_id: customerId,
      card_number: cardNumber,
      ...extra,
    });
    if (reply.status >= 300) throw new Error(`token failed: ${JSON.stringify(reply.body)}`);
    return reply.body.token_id;
  }

  /** Makes a token decline (with `respcd`) or approve. */
  async setCharges(tokenId: string, charges: 'approve' | 'decline', respcd?: string): Promise<void> {
    const reply = await this.control('POST', `/tokens/${tokenId}/behaviour`, {
      charges,
      ...(respcd !== undefined && { respcd }),
    });
    if (reply.status !== 200) throw new Error(`behaviour failed: ${JSON.stringify(reply.body)}`);
  }

  /** Creates customer, token, product and subscription in one go. */
  async subscribe(
    options: {
      product?: Record<string, ParamValue>;
      subscription?: Record<string, ParamValue>;
      card?: string;
    } = {},
  ): Promise<{
    customerId: string;
    tokenId: string;
    productId: string;
    subscriptionId: string;
    state: string;
  }> {
    const customerId = await this.createCustomer();
    const tokenId = await this.createToken(customerId, options.card);
    const productId = await this.createProduct(options.product);
    const created = await this.ok<{ subscription_id: string; state: string }>('/subscription/v1/create', {
      customer_id: customerId,
      token_id: tokenId,
      products: [{ product_id: productId, quantity: 1 }],
      ...options.subscription,
    });
    return { customerId, tokenId, productId, subscriptionId: created.subscription_id, state: created.state };
  }

  /** The emulator's full view of a subscription. */
  async inspect(subscriptionId: string): Promise<SubscriptionTruth> {
    const reply = await this.control<SubscriptionTruth>('GET', `/subscriptions/${subscriptionId}`);
    if (reply.status !== 200) throw new Error(`inspect failed: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  /** The QFPay query row of a subscription. */
  async queryRow(subscriptionId: string): Promise<Record<string, unknown>> {
    const rows = await this.ok<Record<string, unknown>[]>('/subscription/v1/query', {
      subscription_id: subscriptionId,
    });
    const row = rows[0];
    if (row === undefined) throw new Error(`no query row for ${subscriptionId}`);
    return row;
  }
}

/** The parts of `GET /_emulator/subscriptions/:id` the tests read. */
export interface SubscriptionTruth {
  subscription_id: string;
  state: string;
  created_at: string;
  next_billing_time: string | null;
  last_billing_time: string | null;
  completed_billing_iteration: number;
  retry_attempts: number;
  pending_retry: { subscription_order_id: string; at: string; retry_number: number } | null;
  orders: {
    subscription_order_id: string;
    sequence_no: number;
    status: 'PAID' | 'FAILED';
    billing_time: string;
    deadline: string;
    trigger_by: string | null;
    attempts: {
      at: string;
      trigger: string;
      kind: string;
      approved: boolean;
      respcd: string;
      respmsg: string;
      syssn: string;
      txamt: number;
      txcurrcd: string;
    }[];
  }[];
  history: { at: string; from: string | null; to: string; reason: string }[];
}

/** A notification as the receiver got it. */
export interface ReceivedNotification {
  rawBody: string;
  headers: IncomingHttpHeaders;
  payload: Record<string, unknown>;
  /** What the receiver answered. */
  answered: number;
}

/** How the receiver answers: `SUCCESS`, or a failure. */
export type ReceiverAnswer = { status: number; body: string };

/** A small notification receiver (the merchant's notify URL). */
export class NotificationReceiver {
  readonly received: ReceivedNotification[] = [];
  /** The answer to the next notifications; default HTTP 200 `SUCCESS`. */
  answer: ReceiverAnswer = { status: 200, body: 'SUCCESS' };
  private readonly waiters = new Set<() => void>();
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const answer = this.answer;
      this.received.push({
        rawBody,
        headers: req.headers,
        payload: parseJsonObject(rawBody),
        answered: answer.status,
      });
      res.writeHead(answer.status, { 'Content-Type': 'text/plain' });
      res.end(answer.body);
      for (const wake of this.waiters) wake();
    });
  });
  private listeningUrl = '';

  /** Starts a receiver on a free port of 127.0.0.1. */
  static async start(): Promise<NotificationReceiver> {
    const receiver = new NotificationReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.server.address() as AddressInfo;
    receiver.listeningUrl = `http://127.0.0.1:${port}/webhooks/qfpay`;
    return receiver;
  }

  /** The notify URL to give the emulator. */
  get url(): string {
    return this.listeningUrl;
  }

  /** Answers `SUCCESS` from now on. */
  succeed(): void {
    this.answer = { status: 200, body: 'SUCCESS' };
  }

  /** Fails every notification from now on with this answer. */
  fail(status = 500, body = 'FAIL'): void {
    this.answer = { status, body };
  }

  /** The payloads received, optionally of one type and subscription. */
  payloads(notifyType?: string, subscriptionId?: string): Record<string, unknown>[] {
    return this.received
      .map((r) => r.payload)
      .filter(
        (p) =>
          (notifyType === undefined || p.notify_type === notifyType) &&
          (subscriptionId === undefined || p.subscription_id === subscriptionId),
      );
  }

  /** The `state` values of the `subscription` notifications received for a subscription, in order. */
  states(subscriptionId: string): string[] {
    return this.payloads('subscription', subscriptionId).map((p) => String(p.state));
  }

  /** Waits (real time) until `predicate` holds; fails after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 2_000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`receiver: condition not met within ${timeoutMs} ms (got ${this.received.length})`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  clear(): void {
    this.received.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An emulator with a frozen clock, a receiver as its notify URL, and a client. */
export interface TestEmulator {
  emulator: QfpayEmulatorHandle;
  client: EmulatorTestClient;
  receiver: NotificationReceiver;
  close(): Promise<void>;
}

/** Starts a receiver and an in-process emulator (frozen at {@link TEST_START}, port 0, silent). */
export async function startTestEmulator(options: QfpayEmulatorOptions = {}): Promise<TestEmulator> {
  const receiver = await NotificationReceiver.start();
  const emulator = await startQfpayEmulator({
    appCode: TEST_APP_CODE,
    appKey: TEST_APP_KEY,
    notifyUrl: receiver.url,
    frozen: true,
    startTime: TEST_START,
    deliveryTimeoutMs: 2_000,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  const client = new EmulatorTestClient(emulator.url);
  return {
    emulator,
    client,
    receiver,
    close: async () => {
      await emulator.close();
      await receiver.close();
    },
  };
}

/**
 * Gives the enclosing suite one emulator for all its tests (started before them, closed after)
 * and, with `resetEachTest`, a clean one for each: events settled, state cleared, clock frozen at
 * {@link TEST_START}, the receiver cleared and answering `SUCCESS`. The returned object is filled
 * once the emulator has started.
 */
export function useTestEmulator(
  options: { resetEachTest?: boolean; restoreNotifyUrl?: boolean } = {},
): TestEmulator {
  const t = {} as TestEmulator;
  before(async () => {
    Object.assign(t, await startTestEmulator());
  });
  after(async () => {
    await t.close?.();
  });
  if (options.resetEachTest ?? true) {
    beforeEach(async () => {
      await t.emulator.settle();
      t.emulator.reset({ nowMs: TEST_START, frozen: true });
      if (options.restoreNotifyUrl) t.emulator.setNotifyUrl(t.receiver.url);
      t.receiver.clear();
      t.receiver.succeed();
    });
  }
  return t;
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

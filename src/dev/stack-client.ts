/**
 * A small HTTP client for a running local stack, used by `npm run demo`, `npm run ui:check` and
 * their tests: the engine's API (authenticated) and the emulator's `/_emulator` API, nothing else.
 */
import { randomUUID } from 'node:crypto';
import type {
  ChargeResultResponse,
  CreationResponse,
  DunningPolicyOverrideBody,
  SubscriptionViewResponse,
} from '../api/schemas';
import type { StackConfig } from './stack-config';
import { TEST_CLOCK_HEADER } from '../gateways/test-clock-header';

/** `unreachable`: nothing answers; `http`: an unexpected status; `timeout`: a wait ran out. */
export class StackClientError extends Error {
  override readonly name = 'StackClientError';
  constructor(
    readonly type: 'unreachable' | 'http' | 'timeout',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface StackEndpoints {
  apiUrl: string;
  apiKey: string;
  /** The emulator; required for anything that tokenises cards or moves the clock. */
  emulatorUrl: string;
  webUiUrl: string;
  namespace: string;
}

/** The endpoints a stack started with `config` listens on. */
export function endpointsOf(config: StackConfig): StackEndpoints {
  return {
    apiUrl: `http://127.0.0.1:${config.PORT}`,
    apiKey: config.API_KEYS.split(',')[0]!.trim(),
    emulatorUrl: `http://127.0.0.1:${config.EMULATOR_PORT}`,
    webUiUrl: `http://127.0.0.1:${config.TEMPORAL_UI_PORT}`,
    namespace: config.TEMPORAL_NAMESPACE,
  };
}

export type SubscriptionView = SubscriptionViewResponse;

/** What the emulator knows about a subscription (the fields the scripts read). */
export interface EmulatorSubscription {
  subscription_id: string;
  state: string;
  next_billing_time: string | null;
  completed_billing_iteration: number;
  orders: Array<{ subscription_order_id: string; sequence_no: number; status: string }>;
}

export interface CreatedSubscription {
  customerId: string;
  tokenId: string;
  productId: string;
  subscriptionId: string;
  workflowId: string;
  idempotencyKey: string;
}

export interface CreateSubscriptionOptions {
  name?: string;
  /** Card number from the emulator's test cards; default an approved MasterCard. */
  cardNumber?: string;
  interval?: 'monthly' | 'yearly' | 'minutes' | 'hours';
  amount?: number;
  totalBillingCycles?: number | null;
  /** The body's `dunning_policy`, as the merchant writes it (`{ attempt_offsets: ['1h'] }`). */
  dunningPolicy?: DunningPolicyOverrideBody;
  idempotencyKey?: string;
  /** Set the token's charges to decline before the subscription is created. */
  declineFirstCharge?: boolean;
  /** A test clock's id: the customer, card, product and subscription all live on it. */
  testClock?: string;
}

/** A test clock as the engine's API shows it. */
export interface TestClockView {
  test_clock_id: string;
  name: string | null;
  frozen_time: string;
  status: 'ready' | 'advancing';
  advancing_to?: string | null;
  subscriptions: number;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export class StackClient {
  constructor(readonly endpoints: StackEndpoints) {}

  private async call(base: string, what: string, method: string, path: string, init: RequestInit) {
    try {
      return await fetch(`${base}${path}`, { method, ...init, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new StackClientError('unreachable', `${what} at ${base} does not answer (${method} ${path})`, {
        cause: err,
      });
    }
  }

  /** An authenticated JSON call to the engine's API; any status is returned. */
  async api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await this.call(this.endpoints.apiUrl, "the engine's API", method, path, {
      headers: {
        authorization: `Bearer ${this.endpoints.apiKey}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }

  /** A call to the engine's API that must answer `expected`. */
  async apiExpect<T>(
    expected: number | number[],
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> {
    const res = await this.api<T>(method, path, body, headers);
    const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
    if (!ok) {
      throw new StackClientError(
        'http',
        `${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)} (expected ${String(expected)})`,
      );
    }
    return res.body;
  }

  /** A call to the emulator's own API, in a test clock's world when `testClock` names one; non-2xx answers throw. */
  async emulator<T = unknown>(method: string, path: string, body?: unknown, testClock?: string): Promise<T> {
    const res = await this.call(this.endpoints.emulatorUrl, 'the QFPay emulator', method, path, {
      headers: {
        'content-type': 'application/json',
        ...(testClock !== undefined && { [TEST_CLOCK_HEADER]: testClock }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new StackClientError('http', `emulator ${method} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /**
   * Checks that the API is ready and the emulator answers.
   * @throws StackClientError `unreachable` with a message that says to run `npm start`
   */
  async assertRunning(options: { emulator?: boolean } = {}): Promise<void> {
    const hint =
      'Is the stack running? Start it with `npm start` in another terminal (same PORT/EMULATOR_PORT).';
    try {
      const ready = await this.call(this.endpoints.apiUrl, "the engine's API", 'GET', '/readyz', {});
      if (!ready.ok) {
        throw new StackClientError(
          'unreachable',
          `the engine's API at ${this.endpoints.apiUrl} is up but not ready (HTTP ${ready.status}: Temporal?)`,
        );
      }
      if (options.emulator ?? true) {
        const health = await this.call(
          this.endpoints.emulatorUrl,
          'the QFPay emulator',
          'GET',
          '/healthz',
          {},
        );
        if (!health.ok) {
          throw new StackClientError(
            'unreachable',
            `the QFPay emulator answers HTTP ${health.status} on /healthz`,
          );
        }
      }
    } catch (err) {
      if (err instanceof StackClientError && err.type === 'unreachable') {
        throw new StackClientError('unreachable', `${err.message}\n${hint}`, { cause: err });
      }
      throw err;
    }
  }

  /** Polls `probe` until it returns a value. */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (err) {
        if (err instanceof StackClientError && err.type === 'unreachable') throw err;
        last = err;
      }
      if (Date.now() > deadline) {
        const reason = last instanceof Error ? ` (last: ${last.message})` : '';
        throw new StackClientError('timeout', `${what}: not within ${timeoutMs} ms${reason}`);
      }
      await sleep(200);
    }
  }

  /** The engine's view of a subscription. */
  subscription(subscriptionId: string): Promise<SubscriptionView> {
    return this.apiExpect<SubscriptionView>(200, 'GET', `/v1/subscriptions/${subscriptionId}`);
  }

  /** Waits until the engine's view satisfies `test`. */
  waitForSubscription(
    subscriptionId: string,
    what: string,
    test: (view: SubscriptionView) => boolean,
    timeoutMs?: number,
  ): Promise<SubscriptionView> {
    return this.waitFor(
      what,
      async () => {
        const view = await this.subscription(subscriptionId);
        return test(view) ? view : undefined;
      },
      timeoutMs,
    );
  }

  /** The emulator's truth about a subscription. */
  emulatorSubscription(subscriptionId: string): Promise<EmulatorSubscription> {
    return this.emulator<EmulatorSubscription>('GET', `/_emulator/subscriptions/${subscriptionId}`);
  }

  /** Makes every later charge of a token approve, or decline with `respcd`. */
  async setTokenCharges(
    tokenId: string,
    charges: 'approve' | 'decline',
    respcd = '1205',
    options: { from?: string; testClock?: string } = {},
  ): Promise<void> {
    await this.emulator(
      'POST',
      `/_emulator/tokens/${tokenId}/behaviour`,
      { charges, ...(charges === 'decline' ? { respcd } : {}), ...(options.from && { from: options.from }) },
      options.testClock,
    );
  }

  /** Moves the emulator clock to just after the subscription's next billing time. */
  async advanceToNextBilling(subscriptionId: string): Promise<string> {
    const truth = await this.emulatorSubscription(subscriptionId);
    if (!truth.next_billing_time) {
      throw new StackClientError(
        'http',
        `subscription ${subscriptionId} has no next billing time (${truth.state})`,
      );
    }
    const to = new Date(Date.parse(truth.next_billing_time) + 1_000).toISOString();
    await this.emulator('POST', '/_emulator/clock/advance', { to });
    return truth.next_billing_time;
  }

  /** A manual charge of the latest failed order ("charge now"). */
  chargeNow(subscriptionId: string): Promise<ChargeResultResponse> {
    return this.apiExpect<ChargeResultResponse>(
      200,
      'POST',
      `/v1/subscriptions/${subscriptionId}/charge`,
      {},
    );
  }

  /**
   * Creates a customer (engine API), tokenises a test card (emulator), creates a product and a
   * subscription (engine API, with an `Idempotency-Key`), and waits for the creation to finish.
   */
  async createSubscription(options: CreateSubscriptionOptions = {}): Promise<CreatedSubscription> {
    const name = options.name ?? 'Ada Lovelace';
    const onClock = options.testClock === undefined ? {} : { test_clock: options.testClock };
    const customer = await this.apiExpect<{ customer_id: string }>(201, 'POST', '/v1/customers', {
      name,
      email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@example.com`,
      ...onClock,
    });
    const token = await this.emulator<{ token_id: string }>(
      'POST',
      '/_emulator/tokens',
      {
        customer_id: customer.customer_id,
        card_number: options.cardNumber ?? '5200000000001096',
        expiry_date: '12/30',
      },
      options.testClock,
    );
    if (options.declineFirstCharge)
      await this.setTokenCharges(token.token_id, 'decline', undefined, { testClock: options.testClock });
    const interval = options.interval ?? 'monthly';
    const product = await this.apiExpect<{ product_id: string }>(201, 'POST', '/v1/products', {
      name: `${interval[0]!.toUpperCase()}${interval.slice(1)} plan`,
      amount: options.amount ?? 9_900,
      currency: 'HKD',
      interval,
      interval_count: 1,
      ...onClock,
    });
    const idempotencyKey = options.idempotencyKey ?? `create-${randomUUID()}`;
    const body = {
      ...onClock,
      customer_id: customer.customer_id,
      product_id: product.product_id,
      token_id: token.token_id,
      ...(options.totalBillingCycles === undefined
        ? {}
        : { total_billing_cycles: options.totalBillingCycles }),
      ...(options.dunningPolicy ? { dunning_policy: options.dunningPolicy } : {}),
    };
    const headers = { 'idempotency-key': idempotencyKey };
    let creation = await this.apiExpect<CreationResponse>(
      [200, 201, 202],
      'POST',
      '/v1/subscriptions',
      body,
      headers,
    );
    if (creation.status === 'running') {
      creation = await this.waitFor(
        'subscription creation',
        async () => {
          const c = await this.apiExpect<CreationResponse>(
            200,
            'GET',
            `/v1/subscriptions/creations/${encodeURIComponent(idempotencyKey)}`,
          );
          return c.status === 'running' ? undefined : c;
        },
        60_000,
      );
    }
    if (creation.status !== 'completed' || !creation.result) {
      throw new StackClientError('http', `subscription creation failed: ${JSON.stringify(creation.error)}`);
    }
    return {
      customerId: customer.customer_id,
      tokenId: token.token_id,
      productId: product.product_id,
      subscriptionId: creation.result.subscription_id,
      workflowId: creation.result.workflow_id,
      idempotencyKey,
    };
  }

  /** Makes a test clock frozen at `frozenTime` (only where QFPay is the emulator). */
  createTestClock(frozenTime: string, name?: string): Promise<TestClockView> {
    return this.apiExpect<TestClockView>(201, 'POST', '/v1/test_clocks', {
      frozen_time: frozenTime,
      ...(name !== undefined && { name }),
    });
  }

  /** One test clock. */
  testClock(id: string): Promise<TestClockView> {
    return this.apiExpect<TestClockView>(200, 'GET', `/v1/test_clocks/${encodeURIComponent(id)}`);
  }

  /**
   * Advances a test clock to `frozenTime` with one call, and waits until it is `ready` there: every
   * billing, retry, dunning attempt and event due on the way has happened, in time order.
   */
  async advanceTestClock(id: string, frozenTime: string, timeoutMs = 600_000): Promise<TestClockView> {
    await this.apiExpect<TestClockView>(200, 'POST', `/v1/test_clocks/${encodeURIComponent(id)}/advance`, {
      frozen_time: frozenTime,
    });
    return this.waitFor(
      `test clock ${id} ready at ${frozenTime}`,
      async () => {
        const clock = await this.testClock(id);
        return clock.status === 'ready' && clock.frozen_time === frozenTime ? clock : undefined;
      },
      timeoutMs,
    );
  }

  /** The Web UI page of one workflow. */
  workflowUrl(workflowId: string): string {
    const { webUiUrl, namespace } = this.endpoints;
    return `${webUiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  /** The Web UI's workflow list filtered by a visibility query. */
  workflowListUrl(query: string): string {
    const { webUiUrl, namespace } = this.endpoints;
    return `${webUiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
  }
}

/**
 * Test doubles for the QFPay activities in workflow tests on the time-skipping server: a small
 * in-memory QFPay that answers the activities the way the real ones answer against the emulator,
 * and records calls. The contract suite (`test/integration/qfpay-activities-contract.test.ts`)
 * runs the same scenarios against this double and against the real activities over HTTP, so the
 * double cannot say anything the real ones never say.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  ChargeOutcome,
  ConfirmOutcome,
  QfpayActivities,
  SyncResult,
} from '../../src/activities/contracts';
import type { Fact, RemoteOrder, RemoteSubscription } from '../../src/domain/lifecycle/lifecycle';
import { subscriptionOrderId } from '../../src/gateways/qfpay/emulator/engine';
import { orderBeforeEarlierTry, recordOrderBeforeSending } from '../../src/gateways/qfpay/activities';

export interface DoubleCall {
  name: keyof QfpayActivities;
  at: number;
  args: unknown[];
}

/** One order as the double's QFPay keeps it; `attempts` counts charges QFPay recorded on it. */
export type FakeOrder = RemoteOrder & { attempts?: number; syssn?: string };

export interface FakeQfpayState {
  remote: RemoteSubscription;
  orders: FakeOrder[];
  found: boolean;
}

/**
 * What the next charge does, consumed in order (when empty, charges succeed):
 * - `succeeded` / `failed`: QFPay charges and answers;
 * - `pending`: QFPay answers "processing" (1145) and leaves the order as it was, until the test
 *   settles it with {@link FakeQfpay.settleOrder};
 * - `server_error`: HTTP 5xx before QFPay processed anything;
 * - `timeout_after`: QFPay processed the charge (with `then`), but the answer was lost.
 */
export type ScriptedCharge =
  | { outcome: 'succeeded' | 'failed'; respcd?: string }
  | { outcome: 'pending'; respcd?: string }
  | { outcome: 'server_error' }
  /** QFPay refused to take the request (HTTP 429): nothing charged, the activity retries. */
  | { outcome: 'rate_limited' }
  | { outcome: 'timeout_after'; then: 'succeeded' | 'failed'; respcd?: string };

/** How the real activities fingerprint an order; the double's own, equally opaque. */
function fingerprint(order: FakeOrder | undefined): string {
  return order === undefined
    ? 'absent'
    : [order.status, order.respcd, order.syssn, order.at, order.attempts].join('|');
}

/**
 * In-memory QFPay for one subscription. `now` is the test's clock (the time-skipping server's
 * time), so facts the double produces are ordered like the workflow's own time.
 */
export class FakeQfpay {
  readonly calls: DoubleCall[] = [];
  /** Charges that reached QFPay (sent and processed), in order. */
  readonly charged: Array<{ orderId: string; at: number; approved: boolean }> = [];
  chargeScript: ScriptedCharge[] = [];
  /** Called on every sync, to change the remote state at that moment. */
  onSync?: (state: FakeQfpayState, callIndex: number) => void;
  /**
   * Called once a sync's answer is built, before it is returned; resolve it to deliver the answer
   * (a slow network: facts QFPay sends meanwhile overtake an answer that is already stale).
   */
  holdSyncAnswer?: () => Promise<void>;
  /** Called when a charge starts; resolve it to let the charge go on (for interleaving tests). */
  beforeCharge?: () => Promise<void>;
  /** Called when a cancel starts; resolve it to let the cancel go on (for interleaving tests). */
  beforeCancel?: () => Promise<void>;
  /** Called once a charge has been answered, with the number of charges answered so far. */
  afterCharge?: (answered: number) => void;
  private answered = 0;
  private syssn = 0;

  constructor(
    readonly subscriptionId: string,
    public state: FakeQfpayState,
    private readonly fallbackNow: () => number,
    /** Read the time from the activity's schedule (the time-skipping server's clock) when inside one. */
    private readonly activityClock = true,
  ) {}

  /**
   * The server's time: inside an activity, when the attempt was scheduled (on the time-skipping
   * server that is the skipped time, not the wall clock); elsewhere the test's clock.
   */
  now(): number {
    return this.worldClock ? this.worldClock() : this.workerNow();
  }

  /**
   * QFPay's time when it lives on a test clock (the world of that clock at the emulator): it
   * stamps what QFPay records and answers, while the charge window is still judged in the
   * worker's time ({@link workerNow}), as the real activity judges it.
   */
  worldClock: (() => number) | undefined;

  /** The worker's time, which the real activity judges a charge's `notAfter` by. */
  workerNow(): number {
    if (!this.activityClock) return this.fallbackNow();
    try {
      return Context.current().info.currentAttemptScheduledTimestampMs;
    } catch {
      return this.fallbackNow();
    }
  }

  count(name: keyof QfpayActivities): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  /** QFPay records a charge on an order. */
  private recordCharge(orderId: string, approved: boolean, respcd: string): FakeOrder | undefined {
    const at = this.now();
    this.syssn += 1;
    this.charged.push({ orderId, at, approved });
    this.state.orders = this.state.orders.map((o) =>
      o.orderId === orderId
        ? {
            ...o,
            status: approved ? 'PAID' : o.status,
            respcd,
            at,
            triggerBy: 'manual',
            syssn: `fake-${this.syssn}`,
            attempts: (o.attempts ?? 1) + 1,
          }
        : o,
    );
    if (approved) this.state.remote = { ...this.state.remote, state: 'ACTIVE' };
    return this.state.orders.find((o) => o.orderId === orderId);
  }

  /**
   * QFPay bills and pays cycle `n` at `at` on its own (its query then shows the order paid and
   * `nextBillingTime`); returns the notification it sends of it.
   */
  payCycle(n: number, at: number, nextBillingTime: number | undefined): Extract<Fact, { kind: 'payment' }> {
    const orderId = subscriptionOrderId(this.subscriptionId, n);
    this.state.orders = [
      ...this.state.orders,
      { orderId, sequenceNo: n, status: 'PAID', respcd: '0000', at },
    ];
    this.state.remote = { ...this.state.remote, completedCycles: n, lastBillingTime: at, nextBillingTime };
    return {
      kind: 'payment',
      subscriptionId: this.subscriptionId,
      orderId,
      sequenceNo: n,
      succeeded: true,
      respcd: '0000',
      syssn: `${this.subscriptionId}-${n}-paid`,
      at,
      source: 'notification',
    };
  }

  /** Settles a charge left "processing": QFPay now records it. */
  settleOrder(orderId: string, approved: boolean, respcd = approved ? '0000' : '1205'): void {
    this.recordCharge(orderId, approved, respcd);
  }

  private outcomeOf(
    order: FakeOrder,
    outcome: ChargeOutcome['outcome'],
    extra: Partial<ChargeOutcome> = {},
  ): ChargeOutcome {
    return {
      orderId: order.orderId,
      sequenceNo: order.sequenceNo,
      outcome,
      ...(order.respcd === undefined ? {} : { respcd: order.respcd }),
      ...(order.syssn === undefined ? {} : { syssn: order.syssn }),
      at: order.at ?? this.now(),
      ...(order.at === undefined ? {} : { atFromQfpay: true as const }),
      ...extra,
    };
  }

  private noAnswer(
    orderId: string,
    outcome: 'unknown' | 'not_sent',
    detail: string,
    before?: string,
  ): ChargeOutcome {
    const sequenceNo = Number(orderId.split('_').at(-1));
    return {
      orderId,
      sequenceNo,
      outcome,
      at: this.now(),
      detail,
      ...(before ? { orderBefore: before } : {}),
    };
  }

  /** QFPay's side of one manual charge, as the real activity sees it. */
  private charge(input: { orderId: string; notAfter: number }): ChargeOutcome {
    const order = this.state.orders.find((o) => o.orderId === input.orderId);
    if (order?.status === 'PAID')
      return this.outcomeOf(order, 'succeeded', { alreadyPaid: true, respcd: '0000' });
    // As the real activity: an attempt recorded since an earlier try looked is that try's answer.
    const earlier = orderBeforeEarlierTry();
    if (earlier !== undefined && order?.respcd && fingerprint(order) !== earlier)
      return this.outcomeOf(order, 'failed');
    if (this.workerNow() >= input.notAfter) {
      return this.noAnswer(input.orderId, 'not_sent', 'the charge window closed before it could be sent');
    }
    const before = fingerprint(order);
    recordOrderBeforeSending(before);
    const scripted = this.chargeScript.shift() ?? { outcome: 'succeeded' as const };
    switch (scripted.outcome) {
      case 'server_error':
        return this.noAnswer(input.orderId, 'unknown', 'no answer from QFPay (server_error)', before);
      case 'rate_limited':
        // As the real activity: a transient refusal is thrown, for the activity's retry policy.
        throw ApplicationFailure.create({
          type: 'QfpayError:rate_limited',
          message: 'HTTP 429: rate limit exceeded',
          nonRetryable: false,
        });
      case 'timeout_after': {
        const approved = scripted.then === 'succeeded';
        this.recordCharge(input.orderId, approved, scripted.respcd ?? (approved ? '0000' : '1205'));
        return this.noAnswer(input.orderId, 'unknown', 'no answer from QFPay (timeout)', before);
      }
      case 'pending': {
        const { detail: _detail, ...processing } = this.noAnswer(input.orderId, 'unknown', '', before);
        return { ...processing, outcome: 'pending', respcd: scripted.respcd ?? '1145' };
      }
      case 'succeeded':
      case 'failed': {
        const approved = scripted.outcome === 'succeeded';
        const charged = this.recordCharge(
          input.orderId,
          approved,
          scripted.respcd ?? (approved ? '0000' : '1205'),
        )!;
        return this.outcomeOf(charged, scripted.outcome);
      }
    }
  }

  /** The answer to a sync, as QFPay would build it now. */
  private syncAnswer(id: string, options: { sinceSequence?: number }): SyncResult {
    if (!this.state.found) return { found: false, subscriptionId: id, at: this.now() };
    const since = options.sinceSequence ?? Math.max(1, this.state.remote.completedCycles);
    const orders = this.state.orders
      .filter((o) => o.sequenceNo >= since)
      .sort((a, b) => b.sequenceNo - a.sequenceNo)
      .map(({ attempts: _attempts, syssn: _syssn, ...o }) => ({ ...o }));
    return {
      found: true,
      fact: {
        kind: 'sync',
        subscriptionId: id,
        at: this.now(),
        remote: { ...this.state.remote },
        orders,
        source: 'query',
      },
    };
  }

  activities(): QfpayActivities {
    const record = (name: keyof QfpayActivities, args: unknown[]) =>
      this.calls.push({ name, at: this.now(), args });
    return {
      syncSubscription: async (id, options = {}): Promise<SyncResult> => {
        record('syncSubscription', [id, options]);
        this.onSync?.(this.state, this.count('syncSubscription'));
        const answer = this.syncAnswer(id, options);
        await this.holdSyncAnswer?.();
        return answer;
      },
      cancelSubscription: async (id) => {
        record('cancelSubscription', [id]);
        await this.beforeCancel?.();
        this.state.remote = { ...this.state.remote, state: 'CANCELLED' };
        return { at: this.now() };
      },
      updateSubscription: async (input) => {
        record('updateSubscription', [input]);
        if (input.tokenId) this.state.remote = { ...this.state.remote, tokenId: input.tokenId };
        if (input.totalBillingCycles !== undefined) {
          this.state.remote = { ...this.state.remote, totalBillingCycles: input.totalBillingCycles };
        }
        if (input.products) {
          this.state.remote = { ...this.state.remote, productIds: input.products.map((p) => p.productId) };
        }
        return { at: this.now() };
      },
      chargeOrder: async (input) => {
        record('chargeOrder', [input]);
        await this.beforeCharge?.();
        try {
          return this.charge(input);
        } finally {
          this.answered += 1;
          this.afterCharge?.(this.answered);
        }
      },
      confirmCharge: async (input): Promise<ConfirmOutcome> => {
        record('confirmCharge', [input]);
        const order = this.state.orders.find((o) => o.orderId === input.orderId);
        if (!order) return { status: 'unknown' };
        if (order.status === 'PAID')
          return { status: 'paid', charge: this.outcomeOf(order, 'succeeded', { respcd: '0000' }) };
        const since =
          input.orderBefore !== undefined
            ? fingerprint(order) !== input.orderBefore
            : (order.at ?? 0) >= input.sentAt;
        if (since && order.respcd) return { status: 'failed', charge: this.outcomeOf(order, 'failed') };
        return { status: 'unknown' };
      },
      listSubscriptionIds: async (input) => {
        record('listSubscriptionIds', [input]);
        return [];
      },
      ensureCustomer: async (input) => {
        record('ensureCustomer', [input]);
        return 'cust_fake';
      },
      ensureProduct: async (input) => {
        record('ensureProduct', [input]);
        return 'prod_fake';
      },
      findOrCreateSubscription: async (input) => {
        record('findOrCreateSubscription', [input]);
        return {
          subscriptionId: this.subscriptionId,
          state: 'ACTIVE',
          reusedExisting: false,
          at: this.now(),
        };
      },
    };
  }
}

/** The order id QFPay would give cycle `sequenceNo` of `subscriptionId` (as the emulator makes it). */
export { subscriptionOrderId as orderId } from '../../src/gateways/qfpay/emulator/engine';

/**
 * A double whose QFPay holds one subscription, ACTIVE since its first cycle was paid at `t0`, next
 * billed `cycleMs` later, with the customer and card `options` name (`cust_test`, `tk_old` unless).
 */
export function paidOnceQfpay(
  subscriptionId: string,
  t0: number,
  options: {
    totalBillingCycles: number | null;
    cycleMs: number;
    now: () => number;
    customerId?: string;
    tokenId?: string;
  },
): FakeQfpay {
  return new FakeQfpay(
    subscriptionId,
    {
      found: true,
      orders: [
        {
          orderId: subscriptionOrderId(subscriptionId, 1),
          sequenceNo: 1,
          status: 'PAID',
          respcd: '0000',
          at: t0,
        },
      ],
      remote: {
        state: 'ACTIVE',
        customerId: options.customerId ?? 'cust_test',
        tokenId: options.tokenId ?? 'tk_old',
        totalBillingCycles: options.totalBillingCycles,
        completedCycles: 1,
        nextBillingTime: t0 + options.cycleMs,
        lastBillingTime: t0,
      },
    },
    options.now,
  );
}

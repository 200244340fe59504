/**
 * Test doubles for the QFPay activities in workflow tests on the time-skipping server: a small
 * in-memory QFPay that answers the activities the way the real ones would, and records calls.
 * (End-to-end tests use the real activities against the emulator over HTTP instead.)
 */
import { Context } from '@temporalio/activity';
import type { ChargeOutcome, QfpayActivities, SyncResult } from '../../src/activities/contracts';
import type { RemoteOrder, RemoteSubscription } from '../../src/workflows/lifecycle';

export interface DoubleCall {
  name: keyof QfpayActivities;
  at: number;
  args: unknown[];
}

export interface FakeQfpayState {
  remote: RemoteSubscription;
  orders: RemoteOrder[];
  found: boolean;
}

/**
 * In-memory QFPay for one subscription. `now` is the test's clock (the time-skipping server's
 * time), so facts the double produces are ordered like the workflow's own time.
 */
export class FakeQfpay {
  readonly calls: DoubleCall[] = [];
  /** What the next charges answer, consumed in order; when empty, charges succeed. */
  chargeScript: Array<Partial<ChargeOutcome> & { outcome: ChargeOutcome['outcome'] }> = [];
  /** Called on every sync, to change the remote state at that moment. */
  onSync?: (state: FakeQfpayState, callIndex: number) => void;

  constructor(
    readonly subscriptionId: string,
    public state: FakeQfpayState,
    private readonly fallbackNow: () => number,
  ) {}

  /**
   * The server's time: inside an activity, when the attempt was scheduled (on the time-skipping
   * server that is the skipped time, not the wall clock); elsewhere the test's clock.
   */
  now(): number {
    try {
      return Context.current().info.currentAttemptScheduledTimestampMs;
    } catch {
      return this.fallbackNow();
    }
  }

  count(name: keyof QfpayActivities): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  activities(): QfpayActivities {
    const record = (name: keyof QfpayActivities, args: unknown[]) =>
      this.calls.push({ name, at: this.now(), args });
    return {
      syncSubscription: async (id): Promise<SyncResult> => {
        record('syncSubscription', [id]);
        this.onSync?.(this.state, this.count('syncSubscription'));
        if (!this.state.found) return { found: false, subscriptionId: id, at: this.now() };
        return {
          found: true,
          fact: {
            kind: 'sync',
            subscriptionId: id,
            at: this.now(),
            remote: { ...this.state.remote },
            orders: this.state.orders.map((o) => ({ ...o })),
            source: 'query',
          },
        };
      },
      cancelSubscription: async (id) => {
        record('cancelSubscription', [id]);
        this.state.remote = { ...this.state.remote, state: 'CANCELLED' };
        return { at: this.now() };
      },
      updateSubscription: async (input) => {
        record('updateSubscription', [input]);
        if (input.tokenId) this.state.remote = { ...this.state.remote, tokenId: input.tokenId };
        if (input.totalBillingCycles !== undefined) {
          this.state.remote = { ...this.state.remote, totalBillingCycles: input.totalBillingCycles };
        }
        return { at: this.now() };
      },
      chargeOrder: async (input) => {
        record('chargeOrder', [input]);
        const scripted = this.chargeScript.shift() ?? { outcome: 'succeeded' as const };
        const respcd = scripted.respcd ?? (scripted.outcome === 'succeeded' ? '0000' : '1205');
        const sequenceNo = Number(input.orderId.split('_').at(-1));
        const result: ChargeOutcome = {
          orderId: input.orderId,
          sequenceNo,
          respcd,
          at: this.now(),
          ...scripted,
        };
        if (result.outcome === 'succeeded') {
          this.state.orders = this.state.orders.map((o) =>
            o.orderId === input.orderId ? { ...o, status: 'PAID', respcd: '0000', at: this.now() } : o,
          );
          this.state.remote = { ...this.state.remote, state: 'ACTIVE' };
        }
        return result;
      },
      confirmCharge: async (input) => {
        record('confirmCharge', [input]);
        const order = this.state.orders.find((o) => o.orderId === input.orderId);
        const sequenceNo = Number(input.orderId.split('_').at(-1));
        return {
          orderId: input.orderId,
          sequenceNo,
          outcome: order?.status === 'PAID' ? 'succeeded' : 'failed',
          respcd: order?.status === 'PAID' ? '0000' : (order?.respcd ?? '1205'),
          at: this.now(),
        };
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
export { subscriptionOrderId as orderId } from '../../src/sandbox/engine';

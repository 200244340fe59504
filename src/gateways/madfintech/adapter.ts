/**
 * The engine's calls to MadFintech. The engine's subscription id is the order number (known at
 * creation); the recurring subscription (`recurringId`) exists once the first payment has paid
 * the order, and is found through the order.
 */
import type { SyncResult } from '../../domain/gateway-answers';
import {
  GatewayError,
  refuseInputIssues,
  testClockHeaders,
  type GatewayAdapter,
  type GatewayCreateInput,
  type GatewayCreateResult,
  type GatewayInputIssue,
  type GatewayPlan,
} from '../port';
import { MADFINTECH_CAPABILITIES } from './capabilities';
import { MadfintechClient, type ClientOptions } from './client';
import {
  currentEntry,
  orderNumberFor,
  remoteOrders,
  subscriptionState,
  toDecimalAmount,
  toMinorUnits,
} from './mapping';
import {
  CancelledSchema,
  CreatedSchema,
  OrderSchema,
  RecurringSchema,
  envelope,
  type Order,
  type Recurring,
} from './schemas';

const OrderAnswer = envelope(OrderSchema);
const RecurringAnswer = envelope(RecurringSchema);
const DAY_MS = 86_400_000;

export interface AdapterOptions extends ClientOptions {
  shopId: string;
}

/** What of a creation MadFintech cannot take: checked by the API up front, and again by `create`. */
export function madfintechCreateIssues(input: GatewayCreateInput): GatewayInputIssue[] {
  return input.paymentMethod?.token
    ? []
    : [{ path: ['paymentMethod', 'token'], message: 'MadFintech charges a bound card: give its card id' }];
}

/** The seed's shop id is a number; a numeric env value is sent as one. */
const shopIdValue = (shopId: string): number | string => (/^\d+$/.test(shopId) ? Number(shopId) : shopId);

export class MadfintechAdapter implements GatewayAdapter {
  readonly name = 'madfintech';
  readonly capabilities = MADFINTECH_CAPABILITIES;
  private readonly client: MadfintechClient;

  constructor(private readonly options: AdapterOptions) {
    this.client = new MadfintechClient(options);
  }

  /** A client whose calls name the creation's test clock (the emulator's world of it). */
  private onClock(input: GatewayCreateInput): MadfintechClient {
    return new MadfintechClient({ ...this.options, headers: testClockHeaders(input) });
  }

  private async order(orderNumber: string): Promise<{ order?: Order; at: number }> {
    if (!this.options.shopId)
      throw new GatewayError('madfintech is not configured (MADFINTECH_SHOP_ID)', false);
    const path = `/order/${encodeURIComponent(this.options.shopId)}/${encodeURIComponent(orderNumber)}`;
    const answer = await this.client.call('GET', path, OrderAnswer, undefined, [404]);
    return { order: answer.data?.data, at: answer.at };
  }

  private async recurring(recurringId: string): Promise<{ recurring?: Recurring; at: number }> {
    const answer = await this.client.call(
      'GET',
      `/recurring/${encodeURIComponent(recurringId)}`,
      RecurringAnswer,
      undefined,
      [404],
    );
    return { recurring: answer.data?.data, at: answer.at };
  }

  private existing(order: Order): GatewayCreateResult {
    return {
      subscriptionId: order.orderNumber,
      state: subscriptionState(order),
      reusedExisting: true,
      at: Date.parse(order.orderCreatedAt),
    };
  }

  async create(input: GatewayCreateInput): Promise<GatewayCreateResult> {
    const orderNumber = orderNumberFor(input.reference);
    const before = await this.order(orderNumber);
    if (before.order) return this.existing(before.order);
    refuseInputIssues('madfintech', madfintechCreateIssues(input));
    const token = input.paymentMethod?.token ?? '';
    const { plan } = input;
    const body = {
      shopId: shopIdValue(this.options.shopId),
      order: {
        orderNumber,
        description: plan.name,
        cost: { amount: toDecimalAmount(plan.amount, plan.currency), currency: plan.currency },
        recurringPayments: {
          billingIntervalQuantity: plan.interval.count,
          intervalType: plan.interval.unit,
          ...(plan.totalCycles === null ? {} : { paymentCount: plan.totalCycles }),
          ...(plan.endDate === undefined ? {} : { endDate: new Date(plan.endDate).toISOString() }),
        },
      },
      customer: {
        customerId: input.customer.id,
        ...(input.customer.email ? { email: input.customer.email } : {}),
      },
      paymentSettings: { entryMode: 'cnp', instrumentType: 'card' },
      payer: { cardData: { cardId: token } },
    };
    // 409: an attempt we never heard back from created it meanwhile.
    // On a test clock, the order is made in the clock's world; it is read by its number after.
    const client = input.testClock === undefined ? this.client : this.onClock(input);
    const created = await client.call('POST', '/order', envelope(CreatedSchema), body, [409]);
    const after = await this.order(orderNumber).catch(() => undefined);
    if (created.status === 409) {
      if (after?.order) return this.existing(after.order);
      throw new GatewayError(`madfintech order ${orderNumber} exists but cannot be read`, true, 409);
    }
    if (after?.order === undefined)
      return { subscriptionId: orderNumber, state: 'UNKNOWN', reusedExisting: false, at: created.at };
    return {
      subscriptionId: orderNumber,
      state: subscriptionState(after.order),
      reusedExisting: false,
      at: Date.parse(after.order.orderCreatedAt),
    };
  }

  async sync(subscriptionId: string, options?: { sinceSequence?: number }): Promise<SyncResult> {
    const { order, at } = await this.order(subscriptionId);
    if (order === undefined) return { found: false, subscriptionId, at };
    const recurringId = order.recurringPayments?.recurringId;
    let recurring: Recurring | undefined;
    if (recurringId) {
      recurring = (await this.recurring(recurringId)).recurring;
      if (recurring === undefined)
        throw new GatewayError(
          `madfintech recurring ${recurringId} of ${subscriptionId} not found`,
          true,
          404,
        );
    }
    let orders;
    try {
      orders = remoteOrders(order, recurring, at);
    } catch (err) {
      throw new GatewayError(`madfintech order ${subscriptionId}: ${String(err)}`, true);
    }
    orders = orders.filter((o) => o.sequenceNo >= (options?.sinceSequence ?? 1));
    const schedule = recurring?.recurringPayments ?? [];
    const settled = schedule.filter((e) => e.status !== 'schedule');
    const current = recurring ? currentEntry(recurring) : undefined;
    const currentEntryData = current === undefined ? undefined : schedule[current.index];
    const last = settled[settled.length - 1];
    const completedCycles = recurring
      ? schedule.filter((e) => e.status === 'successful').length
      : order.payments.filter((p) => p.paymentStatus.status === 'completed').length;
    return {
      found: true,
      fact: {
        kind: 'sync',
        subscriptionId,
        at,
        remote: {
          state: subscriptionState(order, recurring),
          customerId: order.customer?.customerId ?? recurring?.customerId,
          totalBillingCycles: recurring ? (recurring.paymentCount ?? null) : null,
          completedCycles,
          ...(recurring?.status === 'active' && currentEntryData && current
            ? { nextBillingTime: Date.parse(currentEntryData.chargeDate) + current.tries * DAY_MS }
            : {}),
          ...(last ? { lastBillingTime: Date.parse(last.chargeDate), lastBillingStatus: last.status } : {}),
          ...(current ? { retryAttempts: current.tries } : {}),
          startTime: Date.parse(order.orderCreatedAt),
        },
        orders,
        source: 'query',
      },
    };
  }

  async plan(subscriptionId: string): Promise<GatewayPlan | undefined> {
    const { order } = await this.order(subscriptionId);
    if (order === undefined) return undefined;
    const recurringId = order.recurringPayments?.recurringId;
    const recurring = recurringId ? (await this.recurring(recurringId)).recurring : undefined;
    if (recurring === undefined)
      throw new GatewayError(
        `madfintech order ${subscriptionId} has no recurring schedule yet (it starts with the first payment)`,
        false,
        409,
      );
    const schedule = recurring.recurringPayments;
    const first = schedule[0];
    const current = currentEntry(recurring);
    const currentData = current === undefined ? undefined : schedule[current.index];
    let amount: number;
    try {
      amount = toMinorUnits(recurring.amount, recurring.currency);
    } catch (err) {
      throw new GatewayError(`madfintech recurring ${recurring.id}: ${String(err)}`, false);
    }
    const paid = schedule.filter((e) => e.status === 'successful').length;
    return {
      state: subscriptionState(order, recurring),
      amount,
      currency: recurring.currency,
      interval: { unit: recurring.intervalType, count: recurring.billingIntervalQuantity },
      anchor: first ? Date.parse(first.chargeDate) : Date.parse(order.orderPaidAt ?? order.orderCreatedAt),
      nextBillingTime:
        recurring.status === 'active' && currentData ? Date.parse(currentData.chargeDate) : null,
      remainingCycles: recurring.paymentCount == null ? null : Math.max(0, recurring.paymentCount - paid),
      endDate: recurring.endDate ? Date.parse(recurring.endDate) : null,
    };
  }

  async cancel(subscriptionId: string): Promise<{ at: number }> {
    const { order, at } = await this.order(subscriptionId);
    if (order === undefined)
      throw new GatewayError(`madfintech order ${subscriptionId} not found`, false, 404);
    const recurringId = order.recurringPayments?.recurringId;
    // Never paid: no recurring subscription exists and nothing will be charged.
    if (!recurringId) return { at };
    const before = await this.recurring(recurringId);
    if (before.recurring?.status === 'canceled' || before.recurring?.status === 'cancelled') {
      return { at: Date.parse(before.recurring.cancelledAt ?? '') || before.at };
    }
    const path = `/recurring/${encodeURIComponent(recurringId)}`;
    const deleted = await this.client.call('DELETE', path, envelope(CancelledSchema), undefined, [409]);
    const after = await this.recurring(recurringId).catch(() => undefined);
    const status = after?.recurring?.status;
    if (deleted.status === 409 && status !== 'canceled' && status !== 'cancelled') {
      throw new GatewayError(
        `madfintech refused to cancel ${subscriptionId} (recurring ${status ?? 'unknown'})`,
        false,
        409,
      );
    }
    return { at: Date.parse(after?.recurring?.cancelledAt ?? '') || deleted.at };
  }
}

/**
 * The engine's calls to QorePay: a subscription is a billing template titled with the engine's
 * reference plus one subscriber (the customer's client id) on it.
 */
import type { SyncResult } from '../../domain/gateway-answers';
import type { RemoteSubscription } from '../../domain/lifecycle/lifecycle-types';
import {
  GatewayError,
  refuseInputIssues,
  type GatewayAdapter,
  testClockHeaders,
  type GatewayCreateInput,
  type GatewayCreateResult,
  type GatewayInputIssue,
} from '../port';
import { addIntervalsUtc } from '../calendar';
import { QOREPAY_CAPABILITIES } from './capabilities';
import { type QorepayClient } from './client';
import {
  ID_SEPARATOR,
  cycleOutcome,
  intervalOf,
  joinSubscriptionId,
  periodOf,
  purchaseCycles,
  purchaseTotal,
  purchaseTime,
  remoteOrder,
  splitSubscriptionId,
  subscriptionState,
} from './mapping';
import { purchaseSchema, subscriberSchema, templateSchema, type Purchase, type Subscriber } from './wire';

export interface QorepayAdapterOptions {
  brandId: string;
  /** `subscription_due_period` in days: how long a failed purchase stays payable. */
  dueDays: number;
  /** Whether QorePay emails the invoice when a charge fails. */
  sendInvoiceOnChargeFailure: boolean;
  now?: () => number;
}

const seg = encodeURIComponent;

/** What of a creation QorePay cannot take: checked by the API up front, and again by `create`. */
export function qorepayCreateIssues({ plan, customer }: GatewayCreateInput): GatewayInputIssue[] {
  const issues: GatewayInputIssue[] = [];
  if (plan.endDate !== undefined)
    issues.push({
      path: ['plan', 'endDate'],
      message: 'QorePay billing templates bill until cancelled: no end date (leave it out)',
    });
  if (plan.totalCycles !== null)
    issues.push({
      path: ['plan', 'totalCycles'],
      message: 'QorePay billing templates bill until cancelled: no cycle limit (leave it out or null)',
    });
  if (!Number.isInteger(plan.amount) || plan.amount <= 0)
    issues.push({ path: ['plan', 'amount'], message: 'must be a positive integer in minor units' });
  if (customer.id.includes(ID_SEPARATOR))
    issues.push({ path: ['customer', 'id'], message: `may not contain "${ID_SEPARATOR}" at QorePay` });
  return issues;
}

export function qorepayAdapter(client: QorepayClient, options: QorepayAdapterOptions): GatewayAdapter {
  const now = options.now ?? Date.now;

  function ids(subscriptionId: string): { templateId: string; clientId: string } {
    const parts = splitSubscriptionId(subscriptionId);
    if (!parts) throw new GatewayError(`not a QorePay subscription id: ${subscriptionId}`, false);
    return parts;
  }

  const subscriberPath = (t: string, c: string) => `billing_templates/${seg(t)}/clients/${seg(c)}/`;

  async function purchasesOf(templateId: string, clientId: string, from: QorepayClient = client) {
    const all = await from.list(
      `purchases/?billing_template_id=${seg(templateId)}&client_id=${seg(clientId)}`,
      purchaseSchema,
    );
    // Filtered again here: the list's query parameters are an assumption (README).
    return all.filter((p) => p.billing_template_id === templateId && p.client_id === clientId);
  }

  function stateOf(subscriber: Subscriber, purchases: Purchase[]) {
    const cycles = purchaseCycles(purchases);
    return subscriptionState(
      subscriber.status,
      purchases.map((p) => ({ status: p.status, cycle: cycles.get(p.id)! })),
    );
  }

  async function patchStatus(subscriptionId: string, status: Subscriber['status']) {
    const { templateId, clientId } = ids(subscriptionId);
    return client.call('PATCH', subscriberPath(templateId, clientId), subscriberSchema, { status });
  }

  return {
    name: 'qorepay',
    capabilities: QOREPAY_CAPABILITIES,

    async create(input: GatewayCreateInput): Promise<GatewayCreateResult> {
      const { plan, reference, customer } = input;
      refuseInputIssues('qorepay', qorepayCreateIssues(input));
      if (reference.length === 0) throw new GatewayError('reference may not be empty', false);
      const { period, units } = periodOf(plan.interval);
      // On a test clock, everything the creation reads and makes is in the clock's world.
      const world = client.withHeaders(testClockHeaders(input));

      const found = (await world.list(`billing_templates/?title=${seg(reference)}`, templateSchema)).filter(
        (t) => t.title === reference && t.is_subscription,
      );
      let template = found[0];
      if (template) {
        const price = template.purchase.products.reduce((sum, p) => sum + p.price * Number(p.quantity), 0);
        const same =
          template.purchase.currency === plan.currency &&
          price === plan.amount &&
          template.subscription_period === period &&
          template.subscription_period_units === units;
        if (!same)
          throw new GatewayError(`reference ${reference} is already a different plan at QorePay`, false, 409);
      } else {
        template = await world.call('POST', 'billing_templates/', templateSchema, {
          brand_id: options.brandId,
          title: reference,
          is_subscription: true,
          purchase: {
            currency: plan.currency,
            products: [{ name: plan.name, price: plan.amount, quantity: '1' }],
          },
          subscription_period: period,
          subscription_period_units: units,
          subscription_due_period: options.dueDays,
          subscription_due_period_units: 'days',
          subscription_charge_period_end: false,
          subscription_trial_periods: 0,
          subscription_active: true,
          // The merchant is told of every payment by the engine's events and messages its
          // customers itself: QorePay's own receipt emails are off, as seed 003 advises.
          invoice_send_receipt: false,
        });
      }

      const subscribers = await world.list(
        `billing_templates/${seg(template.id)}/clients/`,
        subscriberSchema,
      );
      if (subscribers.some((s) => s.client_id !== customer.id))
        throw new GatewayError(`reference ${reference} already belongs to another client`, false, 409);
      let subscriber = subscribers[0];
      const reusedExisting = subscriber !== undefined;
      subscriber ??= await world.call(
        'POST',
        `billing_templates/${seg(template.id)}/add_subscriber/`,
        subscriberSchema,
        { client_id: customer.id, send_invoice_on_charge_failure: options.sendInvoiceOnChargeFailure },
      );
      const purchases = await purchasesOf(template.id, customer.id, world);
      return {
        subscriptionId: joinSubscriptionId(template.id, customer.id),
        state: stateOf(subscriber, purchases),
        reusedExisting,
        at: subscriber.created_on * 1000,
      };
    },

    async sync(subscriptionId, syncOptions = {}): Promise<SyncResult> {
      const { templateId, clientId } = ids(subscriptionId);
      let subscriber: Subscriber;
      try {
        subscriber = await client.call('GET', subscriberPath(templateId, clientId), subscriberSchema);
      } catch (err) {
        if (err instanceof GatewayError && err.status === 404)
          return { found: false, subscriptionId, at: now() };
        throw err;
      }
      const purchases = await purchasesOf(templateId, clientId);
      const cycles = purchaseCycles(purchases);
      const all = purchases
        .flatMap((p) => remoteOrder(p, cycles.get(p.id)!) ?? [])
        .sort((a, b) => a.sequenceNo - b.sequenceNo);
      const completedCycles = all.filter((o) => o.status === 'PAID').length;
      const since = syncOptions.sinceSequence ?? Math.max(1, completedCycles);
      const orders = all.filter((o) => o.sequenceNo >= since);
      const newest = [...purchases].sort((a, b) => cycles.get(b.id)! - cycles.get(a.id)!)[0];
      const remote: RemoteSubscription = {
        state: stateOf(subscriber, purchases),
        customerId: clientId,
        totalBillingCycles: null,
        completedCycles,
        startTime: subscriber.created_on * 1000,
        ...(subscriber.subscription_billing_scheduled_on
          ? { nextBillingTime: subscriber.subscription_billing_scheduled_on * 1000 }
          : {}),
        ...(newest
          ? {
              lastBillingTime: newest.created_on * 1000,
              lastBillingStatus: newest.status,
              retryAttempts:
                cycleOutcome(newest.status) === 'paid'
                  ? 0
                  : (newest.transaction_data?.attempts ?? []).filter((a) => !a.successful).length,
            }
          : {}),
      };
      // At least as new as what it reports (the gateway's clock may run ahead: the emulator's does).
      const at = Math.max(now(), subscriber.updated_on * 1000, ...purchases.map(purchaseTime));
      return { found: true, fact: { kind: 'sync', subscriptionId, at, remote, orders, source: 'query' } };
    },

    async plan(subscriptionId) {
      const { templateId, clientId } = ids(subscriptionId);
      let subscriber: Subscriber;
      try {
        subscriber = await client.call('GET', subscriberPath(templateId, clientId), subscriberSchema);
      } catch (err) {
        if (err instanceof GatewayError && err.status === 404) return undefined;
        throw err;
      }
      const template = await client.call('GET', `billing_templates/${seg(templateId)}/`, templateSchema);
      const interval = intervalOf(template.subscription_period, template.subscription_period_units);
      if (!interval)
        throw new GatewayError(
          `QorePay template ${templateId} bills every ${template.subscription_period} ${template.subscription_period_units}, a unit the engine does not know`,
          false,
        );
      const purchases = await purchasesOf(templateId, clientId);
      // The subscriber's first billing date is its creation; a trial's dates issue no purchase.
      const trial = template.subscription_trial_periods ?? 0;
      const anchor = addIntervalsUtc(subscriber.created_on * 1000, interval, trial);
      const scheduled = subscriber.subscription_billing_scheduled_on;
      return {
        state: stateOf(subscriber, purchases),
        amount: purchaseTotal(subscriber.invoice_override ?? template.purchase, template.purchase.products),
        currency: template.purchase.currency,
        interval,
        anchor,
        nextBillingTime:
          subscriber.status === 'active' && template.subscription_active && scheduled
            ? scheduled * 1000
            : null,
        remainingCycles: null,
      };
    },

    async cancel(subscriptionId) {
      try {
        const s = await patchStatus(subscriptionId, 'subscription_cancelled');
        return { at: s.updated_on * 1000 };
      } catch (err) {
        // A cancelled subscriber refuses changes (400): look, and count an earlier cancel as done.
        if (!(err instanceof GatewayError) || err.retryable || err.status === 404) throw err;
        const { templateId, clientId } = ids(subscriptionId);
        const s = await client.call('GET', subscriberPath(templateId, clientId), subscriberSchema);
        if (s.status === 'subscription_cancelled') return { at: s.updated_on * 1000 };
        // The cancel status is our reading (seed 003 documents only `active` and the pause): if
        // QorePay refuses it, billing is stopped the documented way, and the refusal says so.
        await patchStatus(subscriptionId, 'subscription_paused');
        throw new GatewayError(
          `QorePay refused the cancel (${err.message}); the subscriber is paused instead, so it is not billed: cancel it at QorePay`,
          false,
          err.status,
        );
      }
    },

    async update({ subscriptionId, price, ...rest }) {
      const others = Object.entries(rest).filter(([, v]) => v !== undefined);
      if (!price || others.length > 0)
        throw new GatewayError(
          `QorePay changes only a subscriber's price (not ${others.map(([k]) => k).join(', ') || 'nothing'})`,
          false,
          400,
        );
      const { templateId, clientId } = ids(subscriptionId);
      const template = await client.call('GET', `billing_templates/${seg(templateId)}/`, templateSchema);
      if (template.purchase.currency !== price.currency)
        throw new GatewayError(
          `the subscription bills in ${template.purchase.currency}; a price in ${price.currency} cannot replace it`,
          false,
          409,
        );
      // Seed 003's "Dynamic customer billing amounts": the subscriber's own terms, one line.
      const name = template.purchase.products[0]?.name ?? template.title;
      const s = await client.call('PATCH', subscriberPath(templateId, clientId), subscriberSchema, {
        invoice_override: {
          products: [{ name, price: price.amount, quantity: '1' }],
          total_override: price.amount,
        },
      });
      return { at: s.updated_on * 1000 };
    },

    async setPaused(subscriptionId, paused) {
      const s = await patchStatus(subscriptionId, paused ? 'subscription_paused' : 'active');
      return { at: s.updated_on * 1000 };
    },
  };
}

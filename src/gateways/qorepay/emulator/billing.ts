/**
 * The emulator's QorePay: billing templates, subscribers and purchases on a clock the emulator
 * owns. Time moves only when advanced; advancing runs every billing, retry and due date that
 * falls in the interval, in time order, one at a time. No HTTP here.
 */
import { randomUUID } from 'node:crypto';
import {
  joinSubscriptionId,
  purchaseReference,
  purchaseTotal,
  type ProductLine,
  type PurchaseTerms,
} from '../mapping';
import { EVENTS, type Purchase, type Subscriber, type SubscriberStatus } from '../wire';

const DAY_MS = 86_400_000;
/** QorePay retries a failed charge this often until the purchase is due (Assumption: daily). */
export const RETRY_EVERY_MS = DAY_MS;

export type PeriodUnit = 'days' | 'weeks' | 'months';

export interface TemplateInput {
  brand_id: string;
  title: string;
  is_subscription: boolean;
  purchase: PurchaseTerms & { currency: string; products: ProductLine[] };
  subscription_period: number;
  subscription_period_units: PeriodUnit;
  subscription_due_period: number;
  subscription_due_period_units: 'days' | 'weeks';
  /** Invoice at the end of each billing cycle instead of its start. */
  subscription_charge_period_end: boolean;
  subscription_trial_periods: number;
  subscription_active: boolean;
  /** Whether QorePay emails the customer a receipt for a paid purchase (seed 003: default on). */
  invoice_send_receipt?: boolean;
  [field: string]: unknown;
}

export type TemplateRecord = TemplateInput & { id: string; type: 'billing_template'; created_on: number };
type SubscriberRecord = Subscriber & {
  type: 'billing_template_client';
  send_invoice_on_charge_failure: boolean;
  /** This subscriber's own purchase terms (seed 003, "Dynamic customer billing amounts"). */
  invoice_override?: PurchaseTerms;
};
type PurchaseRecord = Purchase & { type: 'purchase'; is_recurring_token: boolean };

interface Schedule {
  anchor: number;
  /** Billing dates reached so far (billed or skipped). */
  dates: number;
  /** Purchases issued so far: the cycle number of the latest. */
  cycles: number;
}

/** Answers the API turns into HTTP errors. */
export class BillingError extends Error {
  constructor(
    readonly status: 400 | 404,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const sec = (ms: number) => Math.floor(ms / 1000);

/** `anchor` moved on by `n` periods (months keep the day of month, clamped to the month's end). */
export function addPeriods(anchor: number, units: PeriodUnit, n: number): number {
  if (units !== 'months') return anchor + n * (units === 'weeks' ? 7 : 1) * DAY_MS;
  const d = new Date(anchor);
  const month = d.getUTCMonth() + n;
  const last = new Date(Date.UTC(d.getUTCFullYear(), month + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), last);
  return Date.UTC(d.getUTCFullYear(), month, day) + (anchor % DAY_MS);
}

export class Billing {
  readonly templates = new Map<string, TemplateRecord>();
  private readonly subscribers = new Map<string, SubscriberRecord & { schedule: Schedule }>();
  readonly purchases = new Map<string, PurchaseRecord>();
  /** Whether the customer was emailed a receipt, by purchase id (what QorePay would send). */
  readonly receipts = new Map<string, boolean>();
  /** When each failed purchase is retried next (absent: no retry before its due date). */
  private readonly retryAt = new Map<string, number>();
  private clock: number;
  /** Whether saved cards approve charges; per subscription overrides win. */
  approveAll = true;
  readonly approve = new Map<string, boolean>();

  constructor(
    private readonly emit: (eventType: string, body: object, subscriptionId: string) => void,
    startMs: number = Date.now(),
  ) {
    this.clock = startMs;
  }

  now(): number {
    return this.clock;
  }

  createTemplate(input: TemplateInput): TemplateRecord {
    const t: TemplateRecord = {
      ...input,
      id: randomUUID(),
      type: 'billing_template',
      created_on: sec(this.clock),
    };
    this.templates.set(t.id, t);
    return t;
  }

  /** `PUT /billing_templates/{id}/`: amends the template (activating it, say); ids and times stay. */
  replaceTemplate(id: string, input: TemplateInput): TemplateRecord {
    const t = this.template(id);
    const replaced: TemplateRecord = { ...input, id, type: 'billing_template', created_on: t.created_on };
    this.templates.set(id, replaced);
    return replaced;
  }

  template(id: string): TemplateRecord {
    const t = this.templates.get(id);
    if (!t) throw new BillingError(404, 'id', 'No such billing template');
    return t;
  }

  subscribersOf(templateId: string): Subscriber[] {
    this.template(templateId);
    return [...this.subscribers.values()].filter((s) => s.billing_template_id === templateId).map(view);
  }

  subscriber(templateId: string, clientId: string): Subscriber {
    return view(this.record(templateId, clientId));
  }

  addSubscriber(
    templateId: string,
    clientId: string,
    sendInvoice: boolean,
    invoiceOverride?: PurchaseTerms,
  ): Subscriber {
    const t = this.template(templateId);
    if (!t.is_subscription) throw new BillingError(400, 'is_subscription', 'Not a subscription template');
    const key = joinSubscriptionId(templateId, clientId);
    if (this.subscribers.has(key)) throw new BillingError(400, 'client_id', 'Client is already a subscriber');
    const now = sec(this.clock);
    this.subscribers.set(key, {
      id: randomUUID(),
      type: 'billing_template_client',
      billing_template_id: templateId,
      client_id: clientId,
      status: 'active',
      created_on: now,
      updated_on: now,
      subscription_billing_scheduled_on: now,
      send_invoice_on_charge_failure: sendInvoice,
      ...(invoiceOverride ? { invoice_override: invoiceOverride } : {}),
      // Whole seconds, as QorePay states its times: `subscription_billing_scheduled_on` is exact.
      schedule: { anchor: now * 1000, dates: 0, cycles: 0 },
    });
    this.advanceTo(this.clock); // the first billing date is now
    return this.subscriber(templateId, clientId);
  }

  /** A subscriber's billing details changed (seed 003's PATCH): its later purchases use them. */
  amendSubscriber(
    templateId: string,
    clientId: string,
    details: { invoice_override?: PurchaseTerms | null; send_invoice_on_charge_failure?: boolean },
  ): Subscriber {
    const s = this.record(templateId, clientId);
    if (s.status === 'subscription_cancelled' && Object.values(details).some((v) => v !== undefined))
      throw new BillingError(400, 'status', 'The subscription is cancelled and can no longer change');
    if (details.invoice_override === null) delete s.invoice_override;
    else if (details.invoice_override !== undefined) s.invoice_override = details.invoice_override;
    if (details.send_invoice_on_charge_failure !== undefined)
      s.send_invoice_on_charge_failure = details.send_invoice_on_charge_failure;
    if (Object.values(details).some((v) => v !== undefined)) s.updated_on = sec(this.clock);
    return view(s);
  }

  /**
   * `POST /billing_templates/{id}/send_invoice/`: a one-time invoice from a template that is not a
   * subscription's (its client pays it; nothing is charged). Assumption: the body names the client.
   */
  sendInvoice(templateId: string, clientId: string): Purchase {
    const t = this.template(templateId);
    if (t.is_subscription)
      throw new BillingError(
        400,
        'is_subscription',
        'send_invoice is for templates that are not subscriptions',
      );
    const now = sec(this.clock);
    const p: PurchaseRecord = {
      id: randomUUID(),
      type: 'purchase',
      billing_template_id: t.id,
      client_id: clientId,
      reference: t.title,
      status: 'sent',
      created_on: now,
      updated_on: now,
      due: sec(addPeriods(this.clock, t.subscription_due_period_units, t.subscription_due_period)),
      purchase: { currency: t.purchase.currency, total: purchaseTotal(t.purchase, t.purchase.products) },
      payment: null,
      transaction_data: { attempts: [] },
      is_recurring_token: false,
    };
    this.purchases.set(p.id, p);
    return structuredClone(p);
  }

  setStatus(templateId: string, clientId: string, status: SubscriberStatus): Subscriber {
    const s = this.record(templateId, clientId);
    if (s.status === 'subscription_cancelled')
      throw new BillingError(400, 'status', 'The subscription is cancelled and can no longer change');
    if (s.status === status) return view(s);
    s.status = status;
    s.updated_on = sec(this.clock);
    if (status === 'subscription_cancelled') {
      s.subscription_billing_scheduled_on = null;
      for (const p of this.purchases.values())
        if (p.billing_template_id === templateId && p.client_id === clientId && p.status === 'error') {
          p.status = 'cancelled';
          p.updated_on = s.updated_on;
          this.retryAt.delete(p.id);
        }
      this.emit(EVENTS.cancelled, view(s), joinSubscriptionId(templateId, clientId));
    }
    return view(s);
  }

  /**
   * Moves the clock forward, running everything that falls due on the way, in time order.
   * @returns how many events ran (billing dates reached, retries, due dates), for a test clock's
   * advance to report
   */
  advanceTo(target: number): number {
    let ran = 0;
    for (; ran < 1_000_000; ran += 1) {
      const next = this.nextEvent();
      if (next === null || next.at > target) break;
      this.clock = Math.max(this.clock, next.at);
      next.run();
    }
    this.clock = Math.max(this.clock, target);
    return ran;
  }

  /** When the next billing date, retry or due date falls (epoch ms), or null when none is scheduled. */
  nextDueAt(): number | null {
    return this.nextEvent()?.at ?? null;
  }

  private record(templateId: string, clientId: string) {
    const s = this.subscribers.get(joinSubscriptionId(templateId, clientId));
    if (!s) throw new BillingError(404, 'id', 'No such subscriber');
    return s;
  }

  private nextEvent(): { at: number; run: () => void } | null {
    let best: { at: number; run: () => void } | null = null;
    const consider = (at: number, run: () => void) => {
      if (best === null || at < best.at) best = { at, run };
    };
    for (const s of this.subscribers.values()) {
      const t = this.template(s.billing_template_id);
      // An inactive template's dates pass as a paused subscriber's do: nothing is issued for them.
      if (s.status === 'subscription_cancelled') continue;
      consider(this.billingDate(s, t), () => this.billingDateReached(s, t));
    }
    for (const p of this.purchases.values()) {
      if (p.status !== 'error') continue;
      const due = (p.due ?? 0) * 1000;
      const retry = this.retryAt.get(p.id);
      if (retry !== undefined && retry < due) consider(retry, () => this.charge(p));
      else consider(due, () => this.overdue(p));
    }
    return best;
  }

  private billingDate(s: { schedule: Schedule }, t: TemplateRecord): number {
    const { anchor, dates } = s.schedule;
    return addPeriods(anchor, t.subscription_period_units, t.subscription_period * dates);
  }

  private billingDateReached(s: SubscriberRecord & { schedule: Schedule }, t: TemplateRecord): void {
    s.schedule.dates += 1;
    s.subscription_billing_scheduled_on = sec(this.billingDate(s, t));
    // A date passed in a trial, while paused or while the template is inactive issues nothing; the
    // next one bills as usual. Billed at the period's end, the first date only opens cycle 1.
    const skipped = t.subscription_trial_periods + (t.subscription_charge_period_end ? 1 : 0);
    if (s.status !== 'active' || !t.subscription_active || s.schedule.dates <= skipped) return;
    s.schedule.cycles += 1;
    const now = sec(this.clock);
    const total = purchaseTotal(s.invoice_override ?? t.purchase, t.purchase.products);
    const dueMs = addPeriods(this.clock, t.subscription_due_period_units, t.subscription_due_period);
    const p: PurchaseRecord = {
      id: randomUUID(),
      type: 'purchase',
      billing_template_id: t.id,
      client_id: s.client_id,
      reference: purchaseReference(t.title, s.schedule.cycles),
      status: 'created',
      created_on: now,
      updated_on: now,
      due: sec(dueMs),
      purchase: { currency: t.purchase.currency, total },
      payment: null,
      transaction_data: { attempts: [] },
      is_recurring_token: false,
    };
    this.purchases.set(p.id, p);
    this.charge(p);
  }

  /** Charges the client's saved recurring method. */
  private charge(p: PurchaseRecord): void {
    const subscriptionId = joinSubscriptionId(p.billing_template_id ?? '', p.client_id);
    const approved = this.approve.get(subscriptionId) ?? this.approveAll;
    const now = sec(this.clock);
    p.updated_on = now;
    p.transaction_data?.attempts.push({
      successful: approved,
      processing_time: now,
      error: approved ? null : { code: 'card_declined', message: 'The card was declined' },
    });
    if (approved) {
      p.status = 'paid';
      p.payment = { amount: p.purchase.total, currency: p.purchase.currency, paid_on: now };
      const template = this.templates.get(p.billing_template_id ?? '');
      this.receipts.set(p.id, template?.invoice_send_receipt !== false);
      this.retryAt.delete(p.id);
      this.emit(EVENTS.paid, p, subscriptionId);
    } else {
      p.status = 'error';
      this.retryAt.set(p.id, this.clock + RETRY_EVERY_MS);
      this.emit(EVENTS.failed, p, subscriptionId);
    }
  }

  private overdue(p: PurchaseRecord): void {
    p.status = 'overdue';
    p.updated_on = sec(this.clock);
    this.retryAt.delete(p.id);
  }
}

function view(s: SubscriberRecord & { schedule?: Schedule }): Subscriber {
  const { schedule: _schedule, ...rest } = s;
  return structuredClone(rest);
}

/**
 * QorePay's objects as they travel (CHIP-style JSON, times in epoch seconds), as zod schemas
 * shared by the adapter, the webhook and the emulator. Unknown fields are dropped, not refused.
 */
import { z } from 'zod';

/** A BillingTemplateClient's `status` values the engine knows. */
export const SUBSCRIBER_STATUSES = ['active', 'subscription_paused', 'subscription_cancelled'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

/** A Purchase's `status` values (CHIP's list). Any other string is read as still in progress. */
export const PURCHASE_STATUSES = [
  'created',
  'sent',
  'viewed',
  'pending_execute',
  'pending_charge',
  'hold',
  'preauthorized',
  'paid',
  'cleared',
  'settled',
  'pending_refund',
  'refunded',
  'chargeback',
  'error',
  'overdue',
  'expired',
  'cancelled',
  'blocked',
] as const;
export type PurchaseStatus = (typeof PURCHASE_STATUSES)[number];

const seconds = z.number().int().nonnegative();

export const productSchema = z.object({
  name: z.string().min(1),
  price: z.number().int().nonnegative(),
  quantity: z.union([z.string(), z.number()]),
  discount: z.number().optional(),
  tax_percent: z.union([z.string(), z.number()]).optional(),
});

/** Purchase terms: a template's `purchase`, or a subscriber's `invoice_override` (seed 003). */
export const purchaseTermsSchema = z.object({
  products: z.array(productSchema).optional(),
  total_override: z.number().int().nullable().optional(),
});

export const templateSchema = z.object({
  id: z.string().min(1),
  title: z.string(),
  is_subscription: z.boolean(),
  purchase: purchaseTermsSchema.extend({ currency: z.string().min(1), products: z.array(productSchema) }),
  subscription_period: z.number().int().positive(),
  subscription_period_units: z.string(),
  /** Billing dates at the start that issue no purchase (seed 003's creation sends 0). */
  subscription_trial_periods: z.number().int().nonnegative().optional(),
  subscription_active: z.boolean(),
  created_on: seconds,
});
export type Template = z.infer<typeof templateSchema>;

export const subscriberSchema = z.object({
  id: z.string().min(1),
  billing_template_id: z.string().min(1),
  client_id: z.string().min(1),
  status: z.enum(SUBSCRIBER_STATUSES),
  created_on: seconds,
  updated_on: seconds,
  subscription_billing_scheduled_on: seconds.nullable().optional(),
  /** This subscriber's own purchase terms ("Dynamic customer billing amounts"), if any. */
  invoice_override: purchaseTermsSchema.nullable().optional(),
});
export type Subscriber = z.infer<typeof subscriberSchema>;

export const attemptSchema = z.object({
  successful: z.boolean(),
  processing_time: seconds,
  error: z.object({ code: z.string(), message: z.string() }).nullable().optional(),
});

export const purchaseSchema = z.object({
  id: z.string().min(1),
  billing_template_id: z.string().min(1).nullable(),
  client_id: z.string().min(1),
  reference: z.string(),
  status: z.string().min(1),
  created_on: seconds,
  updated_on: seconds,
  due: seconds.nullable().optional(),
  purchase: z.object({ currency: z.string().min(1), total: z.number().int().nonnegative() }),
  payment: z
    .object({ amount: z.number().int(), currency: z.string(), paid_on: seconds })
    .nullable()
    .optional(),
  transaction_data: z
    .object({ attempts: z.array(attemptSchema) })
    .nullable()
    .optional(),
});
export type Purchase = z.infer<typeof purchaseSchema>;

/** A list endpoint's page: `next` is the absolute URL of the next page, or null. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ results: z.array(item), next: z.string().nullable().optional() });
}

/** The notification events the engine reads; other `event_type`s are acknowledged and ignored. */
export const EVENTS = {
  paid: 'purchase.paid',
  failed: 'purchase.payment_failure',
  cancelled: 'billing_template_client.subscription_billing_cancelled',
} as const;

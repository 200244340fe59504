/**
 * The shapes MadFintech sends (API responses and callbacks), as zod schemas. Unknown extra keys
 * are tolerated (gateways add fields); the documented ones are checked by type and by their
 * known values. Field names follow the seed; fields marked "Assumption" are not in it (README).
 */
import { z } from 'zod';

export const RECURRING_STATUSES = ['active', 'canceled', 'cancelled', 'failed', 'finished'] as const;
export const PAYMENT_STATUSES = [
  'new',
  'in_progress',
  'authorized',
  'completed',
  'declined',
  'failed',
  'cancelled',
  'refunded',
] as const;
export const ORDER_STATUSES = [
  'new',
  'in_progress',
  'paid',
  'declined',
  'expired',
  'cancelled',
  'refunded',
] as const;
export const SCHEDULE_STATUSES = ['schedule', 'successful', 'failed'] as const;
export const INTERVAL_TYPES = ['day', 'week', 'month', 'year'] as const;

export type RecurringStatus = (typeof RECURRING_STATUSES)[number];
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];
export type OrderStatus = (typeof ORDER_STATUSES)[number];

const time = z.iso.datetime({ offset: true });
const money = z.object({
  amount: z.string().regex(/^\d+(\.\d+)?$/, 'a decimal string'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code'),
});

const code = z.object({ code: z.string() });

export const PaymentSchema = z.object({
  paymentId: z.string().min(1),
  paymentType: z.string().optional(),
  cost: money,
  acquirer: code.optional(),
  provider: code.optional(),
  instrumentType: z.string().optional(),
  /** The card's details (`authCode` absent or null for a declined try: Assumption). */
  paymentDetails: z
    .object({
      paymentSystem: z.string().optional(),
      authCode: z.string().nullable().optional(),
      rrn: z.string().nullable().optional(),
      maskedCardNumber: z.string().optional(),
    })
    .optional(),
  /** `reason`: Assumption (the seed shows no failure detail). */
  paymentStatus: z.object({ status: z.enum(PAYMENT_STATUSES), reason: z.string().min(1).optional() }),
  providerPaymentId: z.string().optional(),
  transactionId: z.string().min(1).optional(),
  /**
   * Not in the seed, whose payments carry no time (our emulator adds it): when it is absent, the
   * mapping takes the order's times, the schedule's, or when the engine learned of the payment.
   */
  createdAt: time.optional(),
});

export const OrderSchema = z.object({
  id: z.number().int().optional(),
  shopId: z.union([z.number(), z.string()]),
  orderNumber: z.string().min(1),
  orderStatus: z.enum(ORDER_STATUSES),
  cost: money,
  recurringPayments: z
    .object({
      recurringId: z.string().min(1).nullable().optional(),
      status: z.enum(RECURRING_STATUSES).nullable().optional(),
      /** Assumption: when the recurring status last changed. */
      updatedAt: time.optional(),
    })
    .nullable()
    .optional(),
  orderCreatedAt: time,
  orderPaidAt: time.nullable().optional(),
  autoCapture: z.boolean().optional(),
  /** Assumption: when the order status last changed. */
  orderUpdatedAt: time.optional(),
  payments: z.array(PaymentSchema),
  customer: z.object({ customerId: z.string() }).optional(),
});

export const ScheduleEntrySchema = z.object({
  chargeDate: time,
  endDate: time,
  status: z.enum(SCHEDULE_STATUSES),
  /** Assumption: one entry per declined try (the seed shows an empty array only). */
  tries: z.array(z.object({ date: time, status: z.enum(PAYMENT_STATUSES) })).optional(),
});

export const RecurringSchema = z.object({
  id: z.string().min(1),
  customerId: z.string().optional(),
  shopId: z.union([z.number(), z.string()]),
  orderNumber: z.string(),
  intervalType: z.enum(INTERVAL_TYPES),
  billingIntervalQuantity: z.number().int().positive(),
  endDate: time.nullable().optional(),
  paymentCount: z.number().int().positive().nullable().optional(),
  status: z.enum(RECURRING_STATUSES),
  createdAt: time,
  cancelledAt: time.nullable().optional(),
  failedAt: time.nullable().optional(),
  amount: z.string(),
  currency: z.string(),
  recurringPayments: z.array(ScheduleEntrySchema),
});

export const CreatedSchema = z.object({ orderNumber: z.string().min(1) });
export const CancelledSchema = z.object({
  recurringId: z.string().min(1),
  status: z.enum(RECURRING_STATUSES),
});

/** Every response wraps its payload in `data`. */
export const envelope = <T extends z.ZodType>(schema: T) => z.object({ data: schema });

export type Payment = z.infer<typeof PaymentSchema>;
export type Order = z.infer<typeof OrderSchema>;
export type ScheduleEntry = z.infer<typeof ScheduleEntrySchema>;
export type Recurring = z.infer<typeof RecurringSchema>;

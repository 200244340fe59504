/**
 * Every input and output of the HTTP API as a zod schema: requests are validated with them, the
 * route handlers build responses typed by them, and the OpenAPI document is generated from them.
 *
 * Every field the API takes or gives is snake_case, like QFPay's own API; the engine's types stay
 * camelCase, and the schemas and views convert at this edge (a dunning policy's
 * `attempt_offsets` is the engine's `attemptOffsets`). Every list is `{ data, next_cursor }`,
 * paged by `?limit=&cursor=` (see `paging.ts`).
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { MAX_PLAN_LINES, MAX_PLAN_QUANTITY, MAX_PRICE } from '../domain/intents/intents';
import { SUBSCRIPTION_STATES } from '../domain/lifecycle/lifecycle-table';
import { METADATA_LIMITS, metadataKeyProblem } from '../domain/metadata/metadata';
import { QFPAY_ID_PREFIXES, qfpayIdSchema } from '../gateways/qfpay/ids';
import { MERCHANT_EVENT_TYPES, MerchantEventSchema, type MerchantEventType } from '../events/merchant-events';
import {
  DUNNING_FINAL_ACTIONS,
  ESCALATION_STEPS,
  checkPolicyField,
  type DunningPolicy,
  type DunningPolicyOverride,
} from '../domain/episode/dunning';

// Must run before any schema below is built: zod 4 copies methods onto each schema as it is
// created, so only schemas made after this call have `.openapi()`.
extendZodWithOpenApi(z);

// ---- errors -----------------------------------------------------------------------------------

/** Every error `code` the API answers with. */
export const ERROR_CODES = [
  'validation_error',
  'unauthorized',
  'invalid_signature',
  'not_found',
  'method_not_allowed',
  'conflict',
  'idempotency_mismatch',
  'rate_limited',
  'creation_pending',
  'temporal_unavailable',
  'qfpay_error',
  'gateway_unavailable',
  'gateway_error',
  'internal',
] as const;
export const ErrorCodeSchema = z.enum(ERROR_CODES).openapi('ErrorCode', {
  description:
    '`validation_error` 400/413/415, `unauthorized` 401, `invalid_signature` 401 (webhook), `not_found` 404, ' +
    '`method_not_allowed` 405 (the path exists; `Allow` names its methods), ' +
    '`conflict` 409 (a workflow refused the change, or QFPay refused it in the current state), ' +
    '`idempotency_mismatch` 422, `rate_limited` 429, `creation_pending` 503 (retry with the same Idempotency-Key), `temporal_unavailable` 503, `qfpay_error` 502/503 (QFPay unreachable, busy ' +
    'or misconfigured), `gateway_unavailable` 503 (a gateway behind the port is not configured, or did not answer on any try), ' +
    '`gateway_error` 502 (a gateway behind the port refused a read the engine made, or answered what the engine cannot read), `internal` 500.',
});
export type ErrorCode = z.output<typeof ErrorCodeSchema>;

export const ErrorDetailSchema = z
  .object({
    path: z.string().openapi({ example: 'product.amount' }),
    message: z.string().openapi({ example: 'Too small: expected number to be >0' }),
  })
  .openapi('ErrorDetail');
export type ErrorDetail = z.output<typeof ErrorDetailSchema>;

export const ErrorBodySchema = z
  .object({
    code: ErrorCodeSchema,
    message: z.string(),
    details: z.array(ErrorDetailSchema).optional(),
  })
  .openapi('ErrorBody');

/** The one shape of every non-2xx JSON answer. */
export const ErrorResponseSchema = z
  .object({
    error: ErrorBodySchema,
    request_id: z
      .string()
      .openapi({ description: 'The `X-Request-Id` of the request (echoed in the header).' }),
  })
  .openapi('ErrorResponse');
export type ErrorResponse = z.output<typeof ErrorResponseSchema>;

// ---- identifiers ------------------------------------------------------------------------------

/** QFPay's ids, held to QFPay's own rules (`src/gateways/qfpay/ids.ts`), with an example each. */
const qfpayId = (prefix: string, example: string) => qfpayIdSchema(prefix).openapi({ example });

export const SubscriptionIdSchema = qfpayId(
  QFPAY_ID_PREFIXES.subscription,
  'sub_a360f06e2fd74e7b93d1d3d0f2b14c3a',
);
export const CustomerIdSchema = qfpayId(QFPAY_ID_PREFIXES.customer, 'cust_8c1f2a9b3d4e4f5a');
export const ProductIdSchema = qfpayId(QFPAY_ID_PREFIXES.product, 'prod_5e6f7a8b9c0d4e1f');
export const TokenIdSchema = qfpayId(QFPAY_ID_PREFIXES.token, 'tk_0a1b2c3d4e5f6789');
export const OrderIdSchema = qfpayId(
  QFPAY_ID_PREFIXES.order,
  'sub_ord_a360f06e2fd74e7b93d1d3d0f2b14c3a_0002',
);

export const SubscriptionStateSchema = z.enum(SUBSCRIPTION_STATES).openapi('SubscriptionState');
/** What the engine knows of the state: `UNKNOWN` until the first fact about the subscription. */
export const LifecycleStateSchema = z.enum([...SUBSCRIPTION_STATES, 'UNKNOWN']).openapi('LifecycleState');

/** An ISO-8601 time with a zone, as the API writes every time. */
const isoTime = z.iso.datetime({ offset: true }).openapi({ example: '2025-01-31T04:00:00.000Z' });
const nullableIso = isoTime.nullable();

// ---- path, query and header parameters -------------------------------------------------------

/**
 * A subscription as the engine names it: QFPay's `sub_…` id, or `<gateway>:<the gateway's id>`
 * for a gateway behind the port (see `src/domain/gateway-profile.ts`).
 */
export const EngineSubscriptionIdSchema = z
  .string()
  .regex(
    /^(sub_[A-Za-z0-9_-]{1,128}|[a-z][a-z0-9]{1,31}:[A-Za-z0-9_.~-]{1,128})$/,
    'must look like sub_… (QFPay) or <gateway>:<id>',
  )
  .openapi({ example: 'sub_a360f06e2fd74e7b93d1d3d0f2b14c3a' });

export const SubscriptionParamsSchema = z.object({
  subscriptionId: EngineSubscriptionIdSchema.openapi({ param: { name: 'subscriptionId', in: 'path' } }),
});
export const CustomerParamsSchema = z.object({
  customerId: CustomerIdSchema.openapi({ param: { name: 'customerId', in: 'path' } }),
});

/** `Idempotency-Key`: 1–255 visible ASCII characters (it is echoed into a `Location` header). */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7E]+$/, 'must be visible ASCII characters (no spaces)')
  .openapi({ example: 'order-7f3c2a-subscribe' });

export const IdempotencyHeadersSchema = z.object({
  'Idempotency-Key': IdempotencyKeySchema.openapi({
    param: {
      name: 'Idempotency-Key',
      in: 'header',
      description: 'Makes the creation safe to retry: the same key and body give the same subscription.',
    },
  }),
});
export const OptionalIdempotencyHeadersSchema = z.object({
  'Idempotency-Key': IdempotencyKeySchema.optional().openapi({
    param: {
      name: 'Idempotency-Key',
      in: 'header',
      description: 'Makes the creation safe to retry: the same key and body give the same record.',
    },
  }),
});
export const CreationParamsSchema = z.object({
  idempotencyKey: IdempotencyKeySchema.openapi({ param: { name: 'idempotencyKey', in: 'path' } }),
});

/** The largest `limit` of a list (QFPay's own largest page). */
export const MAX_LIST_LIMIT = 100;

/** The paging fields of every list's query: how many records, and from where. */
const listQueryFields = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_LIST_LIMIT)
    .default(20)
    .openapi({ description: `Records on this page, 1 to ${MAX_LIST_LIMIT}.` }),
  cursor: z
    .string()
    .max(8192)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be the next_cursor of an earlier page')
    .optional()
    .openapi({
      description:
        'The `next_cursor` of the page before, with the same filters; absent for the first page. Opaque.',
    }),
};

/** The query of a list that has no filters. */
export const ListQuerySchema = z.strictObject(listQueryFields);
export type ListQuery = z.output<typeof ListQuerySchema>;

/**
 * The one shape of every list: a page of `item`, and the cursor of the next page.
 * @param name the component's name in the OpenAPI document
 */
function listOf<S extends z.ZodType>(name: string, item: S, order: string) {
  return z
    .object({
      data: z.array(item).openapi({ description: `This page's records, ${order}.` }),
      next_cursor: z
        .string()
        .nullable()
        .openapi({ description: 'Opaque; pass as `cursor` for the next page. null on the last page.' }),
    })
    .openapi(name);
}

/**
 * Field names the API took before it wrote every field in snake_case and paged every list by
 * cursor: an unknown field by one of these names is answered with what to write instead.
 */
export const FORMER_FIELD_MESSAGES: ReadonlyMap<string, string> = new Map([
  ...(
    [
      ['attemptOffsets', 'attempt_offsets'],
      ['safetyMargin', 'safety_margin'],
      ['minAttemptWindow', 'min_attempt_window'],
      ['finalAction', 'final_action'],
      ['nonRetryableRespcds', 'non_retryable_respcds'],
    ] as const
  ).map(([was, is]): [string, string] => [was, `unknown field: it is ${is} (snake_case)`]),
  ['page', 'unknown field: lists are paged with limit and cursor (the next_cursor of a page)'],
  ['page_size', 'unknown field: it is limit'],
  ['page_token', 'unknown field: it is cursor (the next_cursor of a page)'],
]);

/**
 * A customer's id at a gateway behind the port (QorePay's client id, MadFintech's customerId).
 * Letters, digits and a few marks only: it is a search attribute, and a list filters on it.
 */
export const GatewayCustomerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:@+~-]{1,128}$/, 'must be 1-128 letters, digits or _.:@+~-')
  .openapi({ example: 'b79d3df6-2f69-4426-acee-eda049d83e18' });

// ---- metadata -----------------------------------------------------------------------------------

const metadataKey = z
  .string()
  .min(1, 'a key cannot be empty')
  .max(METADATA_LIMITS.keyLength, `a key has at most ${METADATA_LIMITS.keyLength} characters`)
  .refine((key) => metadataKeyProblem(key) === undefined, 'a key cannot hold square brackets');

const metadataValue = z
  .string()
  .min(1, 'a value cannot be empty (null removes a key)')
  .max(METADATA_LIMITS.valueLength, `a value has at most ${METADATA_LIMITS.valueLength} characters`);

const METADATA_DESCRIPTION =
  `The merchant's own key-value pairs: at most ${METADATA_LIMITS.keys} keys of at most ` +
  `${METADATA_LIMITS.keyLength} characters (no square brackets), values of at most ` +
  `${METADATA_LIMITS.valueLength}. Kept by the engine, encrypted with the rest of the personal data; ` +
  'carried in merchant events.';

/** At most {@link METADATA_LIMITS}.keys entries, named in the 400 like every other field. */
function withKeyLimit<T extends z.ZodType<Record<string, unknown>>>(schema: T) {
  return schema.refine((m) => Object.keys(m).length <= METADATA_LIMITS.keys, {
    message: `at most ${METADATA_LIMITS.keys} keys`,
  });
}

/** Metadata given with a creation. */
export const MetadataSchema = withKeyLimit(z.record(metadataKey, metadataValue)).openapi('Metadata', {
  description: METADATA_DESCRIPTION,
  example: { plan_tier: 'gold', crm_id: 'C-1042' },
});

/** A change of metadata: each key given is set, or removed when its value is null. */
export const MetadataChangeSchema = withKeyLimit(z.record(metadataKey, metadataValue.nullable())).openapi(
  'MetadataChange',
  {
    description: `${METADATA_DESCRIPTION} Each key given is set; null removes it; keys not given stay.`,
    example: { plan_tier: 'platinum', crm_id: null },
  },
);
export type MetadataChangeBody = z.output<typeof MetadataChangeSchema>;

/** Metadata in a view: the keys and values, {} when none. */
const MetadataViewSchema = z.record(z.string(), z.string()).openapi('MetadataView', {
  description: "The merchant's metadata ({} when none).",
});

export const SetMetadataBodySchema = z
  .strictObject({ metadata: MetadataChangeSchema })
  .openapi('SetMetadataRequest');

/** A test clock's id, as `POST /v1/test_clocks` makes it. */
export const TestClockIdSchema = z
  .string()
  .regex(/^clock_[0-9a-f]{24}$/, 'must be a test clock id (clock_…)')
  .openapi({ example: 'clock_3f2a9c0d1b7e4a5c6d8e9f01' });

export const ListSubscriptionsQuerySchema = z
  .strictObject({
    state: SubscriptionStateSchema.optional(),
    // QFPay's `cust_…` ids fit the same pattern.
    customer_id: GatewayCustomerIdSchema.optional().openapi({
      description: "QFPay's cust_… id, or the customer's id at another gateway.",
    }),
    metadata_key: metadataKey.optional().openapi({
      description: 'With metadata_value: only the subscriptions whose metadata has this key with that value.',
    }),
    metadata_value: metadataValue
      .optional()
      .openapi({ description: 'The value of metadata_key to list by.' }),
    test_clock: TestClockIdSchema.optional().openapi({
      description: 'Only the subscriptions that live on this test clock (its `TestClock` search attribute).',
    }),
    ...listQueryFields,
  })
  .superRefine((query, ctx) => {
    if ((query.metadata_key === undefined) !== (query.metadata_value === undefined)) {
      const missing = query.metadata_key === undefined ? 'metadata_key' : 'metadata_value';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'give metadata_key and metadata_value together',
      });
    }
  });
export type ListSubscriptionsQuery = z.output<typeof ListSubscriptionsQuerySchema>;

// ---- customers and products -------------------------------------------------------------------

const BillingAddressSchema = z
  .record(z.string(), z.unknown())
  .openapi('BillingAddress', { description: 'Free-form address object; QFPay stores it as JSON.' });

const customerFields = {
  name: z.string().trim().min(1).max(128).optional(),
  email: z.email().max(254).optional(),
  phone: z
    .string()
    .trim()
    .regex(/^\+?[0-9 ()-]{3,32}$/, 'must be a phone number')
    .optional(),
  billing_address: BillingAddressSchema.optional(),
};

const testClockField = {
  test_clock: TestClockIdSchema.optional().openapi({
    description:
      'The test clock it lives on (only where the gateways are emulators): it is made in the clock’s world and lives in its time.',
  }),
};

export const CreateTestClockBodySchema = z
  .strictObject({
    frozen_time: isoTime.openapi({ description: 'The clock’s time to start at.' }),
    name: z.string().trim().min(1).max(100).optional(),
  })
  .openapi('CreateTestClockRequest');

export const AdvanceTestClockBodySchema = z
  .strictObject({
    frozen_time: isoTime.openapi({ description: 'The time to advance to: not before the clock’s.' }),
  })
  .openapi('AdvanceTestClockRequest');

export const TestClockParamsSchema = z.strictObject({ testClockId: TestClockIdSchema });

export const TestClockSchema = z
  .object({
    test_clock_id: TestClockIdSchema,
    name: z.string().nullable(),
    frozen_time: z.string().openapi({ description: 'The clock’s time.' }),
    status: z.enum(['ready', 'advancing']),
    advancing_to: z.string().nullable(),
    subscriptions: z.number().int().openapi({ description: 'How many subscriptions live on it.' }),
  })
  .openapi('TestClock');
export type TestClockResponse = z.output<typeof TestClockSchema>;

export const CreateCustomerBodySchema = z
  .strictObject({ ...customerFields, metadata: MetadataSchema.optional(), ...testClockField })
  .openapi('CreateCustomerRequest');
export type CreateCustomerBody = z.output<typeof CreateCustomerBodySchema>;

export const CustomerSchema = z
  .object({
    customer_id: CustomerIdSchema,
    name: z.string().optional(),
    email: z.string().optional(),
    phone: z.string().optional(),
    billing_address: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
    metadata: MetadataViewSchema,
  })
  .openapi('Customer');
export type CustomerResponse = z.output<typeof CustomerSchema>;

/** QFPay's `interval` values: monthly and yearly, plus minutes and hours in its sandbox. */
export const PRODUCT_INTERVALS = ['monthly', 'yearly', 'minutes', 'hours'] as const;

const productFields = {
  name: z.string().trim().min(1).max(128),
  description: z.string().max(1024).optional(),
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({
    description: 'Price per billing cycle in minor units (HK$1 = 100).',
    example: 9900,
  }),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a 3-letter currency code')
    .transform((c) => c.toUpperCase())
    .openapi({ example: 'HKD' }),
  interval: z.enum(PRODUCT_INTERVALS),
  interval_count: z.number().int().positive().max(527_040).openapi({
    description: 'Intervals between two charges; QFPay allows at most one year.',
    example: 1,
  }),
};

export const CreateProductBodySchema = z
  .strictObject({ ...productFields, metadata: MetadataSchema.optional(), ...testClockField })
  .openapi('CreateProductRequest');
export type CreateProductBody = z.output<typeof CreateProductBodySchema>;

export const ProductSchema = z
  .object({
    product_id: ProductIdSchema,
    name: z.string().optional(),
    description: z.string().optional(),
    amount: z.number().int().optional(),
    currency: z.string().optional(),
    interval: z.string().optional(),
    interval_count: z.number().int().optional(),
    metadata: MetadataViewSchema,
  })
  .openapi('Product');
export type ProductResponse = z.output<typeof ProductSchema>;

export const ListCustomersQuerySchema = z.strictObject({
  ...listQueryFields,
  name: customerFields.name,
  email: customerFields.email,
  phone: customerFields.phone,
});
export type ListCustomersQuery = z.output<typeof ListCustomersQuerySchema>;

export const UpdateCustomerBodySchema = z
  .strictObject({ ...customerFields, metadata: MetadataChangeSchema.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: 'give at least one field to change' })
  .openapi('UpdateCustomerRequest');
export type UpdateCustomerBody = z.output<typeof UpdateCustomerBodySchema>;

export const CustomerListSchema = listOf('CustomerList', CustomerSchema, 'oldest first');
export type CustomerListResponse = z.output<typeof CustomerListSchema>;

export const ProductParamsSchema = z.object({
  productId: ProductIdSchema.openapi({ param: { name: 'productId', in: 'path' } }),
});

export const ListProductsQuerySchema = z.strictObject({
  ...listQueryFields,
  name: z.string().trim().min(1).max(128).optional(),
  currency: productFields.currency.optional(),
  interval: productFields.interval.optional(),
});
export type ListProductsQuery = z.output<typeof ListProductsQuerySchema>;

/** QFPay lets only a product's name and description change (its price and interval are fixed). */
export const UpdateProductBodySchema = z
  .strictObject({
    name: productFields.name.optional(),
    description: productFields.description,
    metadata: MetadataChangeSchema.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'give name, description and/or metadata' })
  .openapi('UpdateProductRequest');
export type UpdateProductBody = z.output<typeof UpdateProductBodySchema>;

export const ProductListSchema = listOf('ProductList', ProductSchema, 'oldest first');
export type ProductListResponse = z.output<typeof ProductListSchema>;

export const DeletedSchema = z
  .object({ id: z.string(), deleted: z.literal(true) })
  .openapi('Deleted', { description: 'QFPay deleted the record.' });
export type DeletedResponse = z.output<typeof DeletedSchema>;

export const PaymentTokenSchema = z
  .object({
    token_id: z.string(),
    customer_id: z.string(),
    event: z.string().openapi({ description: '`NEW`, `MATCH` or `CONFLICT` as QFPay reported it.' }),
    card_masked: z.string().nullable(),
    card_scheme: z.string().nullable(),
    expiry: z.string().nullable(),
    received_at: isoTime,
    at: isoTime,
  })
  .openapi('PaymentToken');
export type PaymentTokenResponse = z.output<typeof PaymentTokenSchema>;

export const PaymentTokenListSchema = listOf('PaymentTokenList', PaymentTokenSchema, 'oldest first');
export type PaymentTokenListResponse = z.output<typeof PaymentTokenListSchema>;

// ---- dunning policy ---------------------------------------------------------------------------

/**
 * One field of a dunning policy: its shape for messages and the OpenAPI document, and the engine's
 * own rules for it (`checkPolicyField`, the same check the subscription workflow applies), so the
 * API and the workflow cannot drift. Checked per field, so every bad field is reported at once.
 */
function policyField<S extends z.ZodType>(field: keyof DunningPolicy, shape: S, description: string) {
  return shape
    .superRefine((value, ctx) => {
      for (const issue of checkPolicyField(field, value)) {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, input: value });
      }
    })
    .optional()
    .openapi({ description });
}

/**
 * A policy duration. The grammar (`parseDuration`) is checked by the policy's own field check;
 * the pattern and bounds are stated here for the OpenAPI document, so clients (and generated
 * requests) know it.
 */
const PolicyDurationSchema = z.union([
  z.string().openapi({ pattern: '^\\s*\\d+\\s*(ms|s|m|h|d|w)\\s*$', example: '3d' }),
  z.number().openapi({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, example: 3_600_000 }),
]);
/** A policy duration that must be longer than zero (the same grammar, no zero). */
const PositivePolicyDurationSchema = z.union([
  z.string().openapi({ pattern: '^\\s*0*[1-9]\\d*\\s*(ms|s|m|h|d|w)\\s*$', example: '5m' }),
  z.number().openapi({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, example: 300_000 }),
]);
const DURATION_TEXT = "whole number with a unit ('90s', '15m', '1h', '3d', '2w') or milliseconds";

/**
 * A partial dunning policy as the merchant writes it (snake_case); fields left out keep the
 * current value. Parsed into the engine's own override (camelCase), which the workflow takes.
 */
export const DunningPolicyOverrideBodySchema = z
  .strictObject({
    attempt_offsets: policyField(
      'attemptOffsets',
      z.array(PolicyDurationSchema).openapi({ minItems: 1, maxItems: 20 }),
      `When to attempt a manual charge after the failure, each a ${DURATION_TEXT}; strictly ascending, 1 to 20.`,
    ),
    safety_margin: policyField(
      'safetyMargin',
      PolicyDurationSchema,
      `How long before the next billing time every attempt must be over: a ${DURATION_TEXT}.`,
    ),
    min_attempt_window: policyField(
      'minAttemptWindow',
      PositivePolicyDurationSchema,
      `How long one attempt and its retries may need: a ${DURATION_TEXT}, longer than zero.`,
    ),
    escalation: policyField(
      'escalation',
      z.array(z.enum(ESCALATION_STEPS)).openapi({ uniqueItems: true }),
      'Steps taken, in order, when the episode is exhausted; no step twice.',
    ),
    final_action: policyField(
      'finalAction',
      z.enum(DUNNING_FINAL_ACTIONS),
      'What happens to the subscription after the last attempt fails. `leave_to_qfpay` and ' +
        '`pause_billing` are the earlier names of `leave_to_gateway` and `hold_dunning`. On a gateway ' +
        'without a manual charge, `leave_to_gateway` or `cancel` (after the gateway’s own recovery has ended).',
    ),
    non_retryable_respcds: policyField(
      'nonRetryableRespcds',
      z.array(z.string().openapi({ minLength: 1, pattern: '\\S' })),
      'QFPay `respcd` values that end the episode at once.',
    ),
  })
  .transform((body): DunningPolicyOverride => ({
    ...(body.attempt_offsets === undefined ? {} : { attemptOffsets: body.attempt_offsets }),
    ...(body.safety_margin === undefined ? {} : { safetyMargin: body.safety_margin }),
    ...(body.min_attempt_window === undefined ? {} : { minAttemptWindow: body.min_attempt_window }),
    ...(body.escalation === undefined ? {} : { escalation: body.escalation }),
    ...(body.final_action === undefined ? {} : { finalAction: body.final_action }),
    ...(body.non_retryable_respcds === undefined ? {} : { nonRetryableRespcds: body.non_retryable_respcds }),
  }))
  .openapi('DunningPolicyOverride', {
    description:
      'Any subset of the dunning policy; fields left out keep the current value. Durations as text ' +
      "('1h', '3d') or milliseconds.",
    example: { attempt_offsets: ['2h', '1d', '2d'], final_action: 'cancel' },
  });

/** A dunning policy override as the merchant writes it (the body, before it becomes the engine's). */
export type DunningPolicyOverrideBody = z.input<typeof DunningPolicyOverrideBodySchema>;

export const DunningPolicyViewSchema = z
  .object({
    attempt_offsets: z.array(z.number()).openapi({ description: 'Milliseconds after the failure.' }),
    safety_margin: z.number().openapi({ description: 'Milliseconds before the next billing time.' }),
    min_attempt_window: z.number().openapi({ description: 'Milliseconds one attempt may need.' }),
    escalation: z.array(z.string()),
    final_action: z.string(),
    non_retryable_respcds: z.array(z.string()),
  })
  .openapi('DunningPolicy');
export type DunningPolicyViewResponse = z.output<typeof DunningPolicyViewSchema>;

// ---- subscriptions: requests ------------------------------------------------------------------

const InlineProductSchema = z.strictObject(productFields).openapi('InlineProduct');

/**
 * Why a subscription cannot create its customer: QFPay tokenises a card in the browser for an
 * existing `customer_id` (seed 001, steps 2 and 3), so a customer made with the subscription can
 * own no token yet, and `token_id` is required. Refused before anything is created.
 */
export const INLINE_CUSTOMER_REFUSAL =
  'a customer created with the subscription cannot own a card token yet (QFPay tokenises a card for an ' +
  'existing customer_id): create the customer (POST /v1/customers), tokenise the card for its customer_id, ' +
  'then send customer_id';

export const CreateSubscriptionBodySchema = z
  .strictObject({
    customer_id: CustomerIdSchema.optional().openapi({
      description: 'The existing customer the card token (`token_id`) belongs to.',
    }),
    customer: z
      .unknown()
      .optional()
      .openapi({ deprecated: true, description: `Refused (400): ${INLINE_CUSTOMER_REFUSAL}.` }),
    product_id: ProductIdSchema.optional(),
    product: InlineProductSchema.optional().openapi({
      description: 'Creates a recurring product; instead of product_id.',
    }),
    token_id: TokenIdSchema,
    quantity: z.number().int().min(1).max(10_000).optional(),
    total_billing_cycles: z
      .number()
      .int()
      .min(1)
      .nullable()
      .optional()
      .openapi({ description: 'Cycles to bill; null or absent bills until cancelled.' }),
    start_time: isoTime
      .optional()
      .openapi({ description: 'First payment time; in the future means a trial.' }),
    dunning_policy: DunningPolicyOverrideBodySchema.optional(),
    metadata: MetadataSchema.optional(),
    ...testClockField,
  })
  .superRefine((body, ctx) => {
    if (body.customer !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['customer'], message: INLINE_CUSTOMER_REFUSAL });
    } else if (body.customer_id === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['customer_id'],
        message: 'give customer_id: the existing customer the card token belongs to',
      });
    }
    if ((body.product_id === undefined) === (body.product === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['product_id'],
        message: 'give exactly one of product_id or product',
      });
    }
  })
  .openapi('CreateSubscriptionRequest', {
    description:
      '`customer_id` (the existing customer `token_id` belongs to), and exactly one of `product_id` or ' +
      '`product`. An inline `customer` is refused with 400 before anything is created: a new customer ' +
      'cannot own a card token yet.',
    allOf: [
      { required: ['customer_id'] },
      { not: { required: ['customer'] } },
      { oneOf: [{ required: ['product_id'] }, { required: ['product'] }] },
    ],
  });
export type CreateSubscriptionBody = z.output<typeof CreateSubscriptionBodySchema>;

export const CancelBodySchema = z
  .strictObject({
    reason: z.string().trim().min(1).max(500).optional().openapi({
      description: 'Checked and then dropped: the engine keeps no free text in Temporal.',
    }),
    at_period_end: z
      .boolean()
      .optional()
      .openapi({
        description:
          'true: cancel at the end of the current period instead of now. The engine cancels at the gateway ' +
          'before the next billing time, by the same deadline as a manual charge (the next billing time less ' +
          "the dunning policy's safety_margin and min_attempt_window), so the customer is not billed for the " +
          'next cycle. Take it back with POST …/cancel/undo until then. false or absent: cancel now.',
      }),
  })
  .openapi('CancelSubscriptionRequest');
export const ChangePaymentTokenBodySchema = z
  .strictObject({ token_id: TokenIdSchema })
  .openapi('ChangePaymentTokenRequest');
export const ChangeTotalBillingCyclesBodySchema = z
  .strictObject({
    total_billing_cycles: z
      .number()
      .int()
      .min(1)
      .nullable()
      .openapi({
        description:
          'New total (not below the cycles already paid). null bills until cancelled, and only keeps a plan ' +
          'that already does: QFPay cannot change a finite plan to infinite, so null on a finite plan is a 409.',
      }),
  })
  .openapi('ChangeTotalBillingCyclesRequest');
/** The body of a route that takes no fields: none, or `{}` (an unknown field is a 400, as elsewhere). */
export const EmptyBodySchema = z
  .strictObject({})
  .openapi('EmptyRequest', { description: 'No fields: send no body, or `{}`.' });

export const ChargeBodySchema = z
  .strictObject({
    order_id: OrderIdSchema.optional().openapi({
      description: 'The failed order; default: the latest failed one.',
    }),
  })
  .openapi('ChargeRequest');

export const ChangeProductsBodySchema = z
  .strictObject({
    products: z
      .array(
        z.strictObject({
          product_id: ProductIdSchema,
          quantity: z.number().int().min(1).max(MAX_PLAN_QUANTITY).default(1),
        }),
      )
      .min(1)
      .max(MAX_PLAN_LINES)
      .refine((lines) => new Set(lines.map((l) => l.product_id)).size === lines.length, {
        message: 'list each product once',
      })
      .openapi({ description: 'The whole new plan: every product line with its quantity.' }),
  })
  .openapi('ChangeProductsRequest');
export type ChangeProductsBody = z.output<typeof ChangeProductsBodySchema>;

export const ChangePriceBodySchema = z
  .strictObject({
    amount: z.number().int().min(1).max(MAX_PRICE).openapi({
      description: "The price of each cycle from the next billing on, in the currency's minor unit.",
    }),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code')
      .openapi({ description: "The subscription's currency (a price in another one is a 409)." }),
  })
  .openapi('ChangePriceRequest');

export const PauseBodySchema = z
  .strictObject({
    resumes_at: isoTime
      .nullable()
      .optional()
      .openapi({
        description:
          'When billing resumes by itself (in the future); null or absent: until resumed. A gateway that ' +
          'pauses until resumed (QorePay) takes only null.',
      }),
  })
  .openapi('PauseRequest');
export type PauseBody = z.output<typeof PauseBodySchema>;

export const HoldBodySchema = z
  .strictObject({
    until: isoTime.nullable().optional().openapi({
      description: 'When the hold ends by itself (in the future); null or absent: until released.',
    }),
  })
  .openapi('DunningHoldRequest');

/** The most billing times a schedule preview shows. */
export const MAX_SCHEDULE_COUNT = 36;

export const ScheduleQuerySchema = z.strictObject({
  count: z.coerce.number().int().min(1).max(MAX_SCHEDULE_COUNT).default(6),
});
export type ScheduleQuery = z.output<typeof ScheduleQuerySchema>;

// ---- subscriptions: responses -----------------------------------------------------------------

export const OrderViewSchema = z
  .object({
    order_id: z.string(),
    sequence_no: z.number().int(),
    status: z.enum(['PAID', 'FAILED']),
    respcd: z.string().nullable(),
    failures: z.number().int(),
    first_at: isoTime,
    last_at: isoTime,
    paid_at: nullableIso,
    amount: z.number().int().nullable(),
    currency: z.string().nullable(),
    trigger_by: z.enum(['auto', 'manual']).nullable(),
  })
  .openapi('SubscriptionOrder');

export const TransitionViewSchema = z
  .object({ from: LifecycleStateSchema, to: SubscriptionStateSchema, at: isoTime, cause: z.string() })
  .openapi('StateTransition');

export const DunningAttemptViewSchema = z
  .object({
    attempt: z.number().int(),
    scheduled_at: isoTime,
    started_at: isoTime,
    finished_at: isoTime,
    result: z.enum(['succeeded', 'failed', 'pending', 'error', 'skipped']),
    respcd: z.string().nullable(),
    detail: z.string().nullable(),
  })
  .openapi('DunningAttempt');

export const DunningEpisodeViewSchema = z
  .object({
    order_id: z.string(),
    sequence_no: z.number().int(),
    stage: z
      .string()
      .openapi({ description: 'retrying, escalating, recovered, exhausted, lost or stopped.' }),
    opened_at: isoTime,
    failure_at: isoTime,
    next_billing_time: isoTime,
    deadline: isoTime.openapi({
      description: 'Every attempt ends before this: next billing time − safety margin.',
    }),
    schedule: z.array(isoTime),
    attempts: z.array(DunningAttemptViewSchema),
    escalation_steps_done: z.array(z.string()),
    closed_at: nullableIso,
    outcome: z.enum(['recovered', 'exhausted', 'lost', 'stopped']).nullable(),
    outcome_detail: z.string().nullable(),
  })
  .openapi('DunningEpisode');

export const BillingPauseViewSchema = z
  .object({
    since: isoTime,
    resumes_at: nullableIso,
    by: z.enum(['merchant', 'final_action']),
  })
  .openapi('BillingPause');

export const DunningHoldViewSchema = z
  .object({
    since: isoTime,
    until: nullableIso,
    by: z.enum(['merchant', 'final_action']),
  })
  .openapi('DunningHold');

export const ScheduledCancelViewSchema = z
  .object({
    period_end: isoTime.openapi({ description: 'The billing time the customer is not billed at.' }),
    cancel_at: isoTime.openapi({
      description:
        'When the engine cancels at the gateway: period_end less the safety margin and the minimum attempt window.',
    }),
    scheduled_at: isoTime,
  })
  .openapi('ScheduledCancel');

export const SubscriptionViewSchema = z
  .object({
    subscription_id: z.string(),
    workflow_id: z.string(),
    gateway: z
      .string()
      .openapi({ description: 'The gateway the subscription runs on (see GET /v1/gateways).' }),
    origin: z.enum(['created', 'adopted']),
    state: LifecycleStateSchema,
    state_at: nullableIso,
    customer_id: z.string().nullable(),
    token_id: z.string().nullable(),
    product_ids: z.array(z.string()),
    total_billing_cycles: z.number().int().nullable(),
    completed_cycles: z.number().int(),
    next_billing_time: nullableIso.openapi({
      description: 'null once the subscription has ended (CANCELLED, COMPLETED, INCOMPLETE_EXPIRED).',
    }),
    last_billing_time: nullableIso,
    recent_orders: z.array(OrderViewSchema),
    transitions: z.array(TransitionViewSchema),
    dunning: z.object({
      policy: DunningPolicyViewSchema,
      episode: DunningEpisodeViewSchema.nullable(),
      history: z.array(DunningEpisodeViewSchema),
    }),
    billing_paused_by_merchant: z.boolean().openapi({
      description: 'The gateway has paused billing at the merchant’s request (billing_pause is set).',
    }),
    billing_pause: BillingPauseViewSchema.nullable().openapi({
      description: 'The gateway’s pause of billing (only a gateway that can pause), or null.',
    }),
    dunning_hold: DunningHoldViewSchema.nullable().openapi({
      description:
        'The engine holds its own dunning (no manual charge, no new episode, no final action) while ' +
        'the gateway goes on billing: the merchant’s hold, or the final action hold_dunning. Null otherwise.',
    }),
    scheduled_cancel: ScheduledCancelViewSchema.nullable().openapi({
      description:
        'A cancel scheduled for the end of the current period (POST …/cancel with at_period_end), or null.',
    }),
    reconcile_reason: z.string().nullable(),
    last_sync_at: nullableIso,
    facts_applied: z.number().int(),
    test_clock: z
      .object({ test_clock_id: z.string(), frozen_time: z.string().nullable() })
      .optional()
      .openapi({
        description:
          'Only for a subscription on a test clock: the clock, and its time there. Every time of the view is a clock time.',
      }),
    metadata: MetadataViewSchema,
  })
  .openapi('Subscription');
export type SubscriptionViewResponse = z.output<typeof SubscriptionViewSchema>;

export const ChargeResultSchema = z
  .object({
    order_id: z.string(),
    outcome: z.enum(['succeeded', 'failed', 'pending']),
    respcd: z.string(),
    respmsg: z.string().nullable(),
    subscription: SubscriptionViewSchema,
  })
  .openapi('ChargeResult');
export type ChargeResultResponse = z.output<typeof ChargeResultSchema>;

export const OrderAttemptSchema = z
  .object({
    at: isoTime,
    trigger_by: z.enum(['auto', 'manual']),
    succeeded: z.boolean(),
    respcd: z.string().nullable(),
    respmsg: z.string().nullable(),
    amount: z.number().int().nullable(),
    currency: z.string().nullable(),
    syssn: z.string().nullable(),
    source: z.enum(['engine', 'gateway_order_list']).openapi({
      description:
        "`engine`: a notification or the engine's own charge; `gateway_order_list`: only the gateway's " +
        'order list knew it (the last attempt of an order the engine heard nothing of).',
    }),
  })
  .openapi('OrderAttempt');

export const OrderWithAttemptsSchema = z
  .object({
    order_id: z.string(),
    sequence_no: z.number().int(),
    status: z.enum(['PAID', 'FAILED']),
    billing_time: nullableIso,
    amount: z.number().int().nullable(),
    currency: z.string().nullable(),
    trigger_by: z.enum(['auto', 'manual']).nullable(),
    attempts: z.array(OrderAttemptSchema).openapi({ description: 'Every attempt, oldest first.' }),
  })
  .openapi('OrderWithAttempts');

export const OrderListSchema = listOf('OrderList', OrderWithAttemptsSchema, 'newest first');
export type OrderListResponse = z.output<typeof OrderListSchema>;

export const ScheduleSchema = z
  .object({
    subscription_id: z.string(),
    state: SubscriptionStateSchema,
    anchor: isoTime.openapi({ description: 'The first billing time; every cycle is counted from it.' }),
    billing_paused: z.boolean().openapi({
      description: 'The engine has paused its own charges; QFPay still bills on its schedule.',
    }),
    billings: z.array(
      z.object({
        cycle: z.number().int().openapi({ description: '1 = the first payment.' }),
        at: isoTime,
        amount: z.number().int(),
        currency: z.string(),
      }),
    ),
    dunning: z
      .object({ order_id: z.string(), deadline: isoTime, attempts: z.array(isoTime) })
      .nullable()
      .openapi({ description: "The open episode's planned attempts (none while paused), or null." }),
  })
  .openapi('Schedule');
export type ScheduleResponse = z.output<typeof ScheduleSchema>;

export const SubscriptionListItemSchema = z
  .object({
    subscription_id: z.string(),
    workflow_id: z.string(),
    state: LifecycleStateSchema.nullable(),
    next_billing_time: nullableIso,
    customer_id: z.string().nullable(),
    dunning_stage: z.string().nullable(),
    status: z.enum(['running', 'closed']),
    metadata: MetadataViewSchema,
  })
  .openapi('SubscriptionListItem');

export const SubscriptionListSchema = listOf(
  'SubscriptionList',
  SubscriptionListItemSchema,
  'in visibility order (most recently started first)',
);
export type SubscriptionListResponse = z.output<typeof SubscriptionListSchema>;

export const CreationResultSchema = z
  .object({
    subscription_id: z.string(),
    workflow_id: z.string().openapi({ description: "The subscription's lifecycle workflow." }),
    customer_id: z.string(),
    product_id: z
      .string()
      .nullable()
      .openapi({ description: "QFPay's product; null on a gateway behind the port (products are QFPay's)." }),
    state: LifecycleStateSchema,
    reused_existing: z
      .boolean()
      .openapi({ description: 'QFPay already had this subscription (found instead of created again).' }),
  })
  .openapi('CreationResult');

// ---- gateways ---------------------------------------------------------------------------------

export const GatewayCapabilitiesSchema = z
  .object({
    manual_charge: z
      .boolean()
      .openapi({ description: 'The engine charges a failed cycle itself (dunning).' }),
    pause: z.boolean().openapi({ description: 'The gateway pauses billing itself.' }),
    change_token: z.boolean().openapi({ description: 'The card (payment token) can be changed.' }),
    change_cycles: z.boolean().openapi({ description: 'The number of billing cycles can be changed.' }),
    change_products: z.boolean().openapi({ description: 'The plan (products) can be changed.' }),
    change_price: z
      .boolean()
      .openapi({ description: 'One subscription’s own price can be set (POST …/price).' }),
    cancel: z.boolean(),
    recovery: z.string().openapi({ description: 'How the gateway itself recovers a failed charge.' }),
    recovery_ends_after_ms: z
      .number()
      .int()
      .positive()
      .nullable()
      .openapi({
        description:
          'Without a manual charge: how long after the first decline the gateway’s last try falls due. ' +
          'The engine escalates when the gateway says its recovery ended unpaid, and asks it once this has passed. ' +
          'null where the engine charges a failed cycle itself.',
      }),
  })
  .openapi('GatewayCapabilities');

export const GatewaySchema = z
  .object({ name: z.string(), description: z.string(), capabilities: GatewayCapabilitiesSchema })
  .openapi('Gateway');
export type GatewayResponse = z.output<typeof GatewaySchema>;

export const GatewayListSchema = listOf('GatewayList', GatewaySchema, 'QFPay first');
export type GatewayListResponse = z.output<typeof GatewayListSchema>;

export const GatewayParamsSchema = z.object({
  gateway: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,31}$/, 'must be a gateway name (lower-case letters and digits)')
    .openapi({ param: { name: 'gateway', in: 'path' }, example: 'qorepay' }),
});

/** An id a gateway or the merchant gives without a shape we know: 1-128 visible ASCII characters. */
const gatewayText = z.string().regex(/^[\x21-\x7E]{1,128}$/, 'must be 1-128 visible ASCII characters');

export const GatewayCreateSubscriptionBodySchema = z
  .strictObject({
    customer: z.strictObject({
      id: GatewayCustomerIdSchema.openapi({ description: "The customer's id at the gateway." }),
      email: z.email().max(254).optional(),
      name: z.string().trim().min(1).max(200).optional(),
    }),
    plan: z.strictObject({
      name: z.string().trim().min(1).max(200),
      amount: z.number().int().min(1).max(100_000_000).openapi({ description: 'Minor units (cents).' }),
      currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD'),
      interval: z.strictObject({
        unit: z.enum(['day', 'week', 'month', 'year']),
        count: z.number().int().min(1).max(365),
      }),
      total_cycles: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .nullable()
        .optional()
        .openapi({ description: 'Cycles to bill; null or absent bills until cancelled.' }),
      end_date: z.iso.datetime({ offset: true }).optional().openapi({
        description:
          'No billing after this time (MadFintech takes one; a gateway without end dates answers 400 naming it).',
      }),
    }),
    payment_method: z
      .strictObject({
        token: gatewayText.openapi({ description: 'A token or card reference at the gateway.' }),
      })
      .optional()
      .openapi({ description: 'Absent: the gateway charges the method it keeps for the customer.' }),
    dunning_policy: DunningPolicyOverrideBodySchema.optional(),
    metadata: MetadataSchema.optional(),
    ...testClockField,
  })
  .openapi('GatewayCreateSubscriptionRequest');
export type GatewayCreateSubscriptionBody = z.output<typeof GatewayCreateSubscriptionBodySchema>;

export const CreationSchema = z
  .object({
    idempotency_key: z.string(),
    status: z.enum(['running', 'completed', 'failed']),
    replayed: z
      .boolean()
      .openapi({ description: 'An earlier request with this Idempotency-Key started the creation.' }),
    result: CreationResultSchema.nullable(),
    error: ErrorBodySchema.nullable(),
  })
  .openapi('SubscriptionCreation');
export type CreationResponse = z.output<typeof CreationSchema>;

// ---- webhook and operations -------------------------------------------------------------------

export const QfpayNotificationBodySchema = z
  .object({
    notify_type: z.enum(['subscription', 'subscription_payment', 'payment_token']),
  })
  .catchall(z.unknown())
  .openapi('QfpayNotification', {
    description:
      "QFPay's notification JSON. Signed: `X-QF-SIGN` = upper-case hex MD5 of the raw body bytes + the app key.",
    example: {
      notify_type: 'subscription_payment',
      subscription_id: 'sub_a360f06e2fd74e7b93d1d3d0f2b14c3a',
      subscription_order_id: 'sub_ord_a360f06e2fd74e7b93d1d3d0f2b14c3a_0001',
      respcd: '0000',
      txamt: '9900',
      txcurrcd: 'HKD',
      txdtm: '2025-01-31 12:00:00',
    },
  });

export const HealthSchema = z.object({ status: z.literal('ok') }).openapi('Health');
export const ReadinessSchema = z
  .object({ status: z.enum(['ready', 'unavailable']), temporal: z.enum(['ok', 'unavailable']) })
  .openapi('Readiness');

// ---- merchant events (the engine's own webhooks) ------------------------------------------------

export const MerchantEventDeliveryStatusSchema = z
  .enum(['pending', 'retrying', 'delivered', 'failed'])
  .openapi('MerchantEventDeliveryStatus', {
    description:
      '`pending` before the first attempt, `retrying` between attempts, `delivered` (2xx), `failed`: ' +
      'gave up after about three days, or the endpoint answered 410 Gone (it is then turned off).',
  });

export const ListMerchantEventsQuerySchema = z.strictObject({
  status: MerchantEventDeliveryStatusSchema.optional(),
  subscription_id: EngineSubscriptionIdSchema.optional(),
  ...listQueryFields,
});
export type ListMerchantEventsQuery = z.output<typeof ListMerchantEventsQuerySchema>;

export const MerchantEventParamsSchema = z.object({
  eventId: z
    .string()
    // `evt.` + the engine's subscription id (`<gateway>:<id>` may hold `~`) + the event's parts.
    .regex(/^[A-Za-z0-9._:~-]{1,400}$/, 'an event id (the `id` of the event, `webhook-id` of its delivery)')
    .openapi({
      param: { name: 'eventId', in: 'path' },
      example: 'evt.sub_a360.payment_failed.0003.1732158726000',
    }),
});

export const MerchantEventAttemptSchema = z
  .object({
    attempt: z.number().int(),
    at: z.iso.datetime(),
    http_status: z.number().int().openapi({ description: "The endpoint's answer; 0 when none came." }),
    reason: z.string(),
  })
  .openapi('MerchantEventAttempt');

export const MerchantEventDeliverySchema = z
  .object({
    event_id: z.string(),
    type: z.string().nullable(),
    subscription_id: z.string().nullable(),
    status: MerchantEventDeliveryStatusSchema.nullable(),
    attempts: z.number().int(),
    last_attempt: MerchantEventAttemptSchema.nullable(),
    next_attempt_at: nullableIso,
    failure: z.string().nullable(),
    started_at: z.iso.datetime(),
  })
  .openapi('MerchantEventDelivery');
export type MerchantEventDeliveryResponse = z.output<typeof MerchantEventDeliverySchema>;

export const MerchantEventListSchema = listOf(
  'MerchantEventList',
  MerchantEventDeliverySchema,
  'in visibility order (most recently started first)',
);
export type MerchantEventListResponse = z.output<typeof MerchantEventListSchema>;

/**
 * `GET /v1/events`: the events themselves, as the merchant's endpoint receives them. The time range
 * is on `created_at`: from `created_after` (inclusive) to `created_before` (exclusive).
 */
export const ListEventsQuerySchema = z
  .strictObject({
    type: z
      .enum(MERCHANT_EVENT_TYPES as [MerchantEventType, ...MerchantEventType[]])
      .optional()
      .openapi({ description: 'Only events of this type.' }),
    subscription_id: EngineSubscriptionIdSchema.optional(),
    created_after: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'Only events created at or after this time (ISO-8601).' }),
    created_before: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'Only events created before this time (ISO-8601).' }),
    ...listQueryFields,
  })
  .refine(
    (q) =>
      q.created_after === undefined ||
      q.created_before === undefined ||
      Date.parse(q.created_after) < Date.parse(q.created_before),
    { path: ['created_before'], message: 'must be later than created_after' },
  );
export type ListEventsQuery = z.output<typeof ListEventsQuerySchema>;

/**
 * A merchant event, exactly as the merchant's endpoint receives it (its JSON body). Defined before
 * zod was extended for the document (src/events), so it carries no component name of its own.
 */
export const EventSchema = MerchantEventSchema;
export const EventListSchema = listOf(
  'EventList',
  EventSchema,
  'newest first as Temporal visibility orders their deliveries (most recently started first)',
);
export type EventListResponse = z.output<typeof EventListSchema>;

export const MerchantEndpointSchema = z
  .object({
    endpoint: z
      .string()
      .nullable()
      .openapi({ description: 'The configured URL without query string; null when events are off.' }),
    enabled: z.boolean(),
    turned_off: z
      .object({ at: z.string(), status: z.number().int(), event_id: z.string() })
      .nullable()
      .openapi({ description: 'Why the endpoint is off: the event it answered 410 Gone to.' }),
  })
  .openapi('MerchantEndpoint');
export type MerchantEndpointResponse = z.output<typeof MerchantEndpointSchema>;

// ---- reports ------------------------------------------------------------------------------------

/** The longest range one dunning report covers. */
export const MAX_REPORT_RANGE_DAYS = 366;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * `GET /v1/reports/dunning`: a time range, `from` inclusive and `to` exclusive (default: the 30 days
 * up to now), and optionally one gateway.
 */
export const DunningReportQuerySchema = z
  .strictObject({
    from: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'Start of the range, inclusive (ISO-8601); default: 30 days before `to`.' }),
    to: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'End of the range, exclusive (ISO-8601); default: now.' }),
    gateway: z
      .string()
      .regex(/^[a-z][a-z0-9]{1,31}$/, 'must be a gateway name (lower-case letters and digits)')
      .optional()
      .openapi({ description: 'Only subscriptions of this gateway (`qfpay`, `qorepay`, `madfintech`).' }),
  })
  .superRefine((q, ctx) => {
    const { from, to } = reportRange(q);
    if (from >= to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be later than from' });
    else if (to - from > MAX_REPORT_RANGE_DAYS * DAY_MS)
      ctx.addIssue({
        code: 'custom',
        path: ['from'],
        message: `the range is at most ${MAX_REPORT_RANGE_DAYS} days`,
      });
  });
export type DunningReportQuery = z.output<typeof DunningReportQuerySchema>;

/** A report's range in Unix ms: `to` defaults to `now`, `from` to 30 days before `to`. */
export function reportRange(
  q: { from?: string | undefined; to?: string | undefined },
  now = Date.now(),
): {
  from: number;
  to: number;
} {
  const to = q.to === undefined ? now : Date.parse(q.to);
  return { from: q.from === undefined ? to - 30 * DAY_MS : Date.parse(q.from), to };
}

const DunningFiguresShape = {
  opened: z.number().int().openapi({ description: 'Episodes opened in the range.' }),
  still_open: z.number().int().openapi({ description: 'Of those, the ones still open now.' }),
  recovered: z.number().int().openapi({ description: 'Episodes closed in the range with the order paid.' }),
  exhausted: z.number().int().openapi({
    description: 'Episodes closed in the range with every attempt failed (the final action follows).',
  }),
  lost: z
    .number()
    .int()
    .openapi({ description: 'Episodes closed in the range because the next billing time came first.' }),
  stopped: z.number().int().openapi({
    description: 'Episodes closed in the range because the subscription ended or stopped billing.',
  }),
  recovery_rate: z
    .number()
    .nullable()
    .openapi({ description: 'recovered ÷ (recovered + exhausted + lost + stopped); null when none closed.' }),
  recovered_at: z
    .array(
      z.object({
        attempt: z.number().int().openapi({
          description:
            "The attempt that recovered the order; 0: paid without a manual charge of the engine (the gateway's own retry, the customer).",
        }),
        offset_ms: z.number().int().nullable().openapi({
          description:
            "That attempt's offset in the policy (ms after the failure); null for a charge the plan did not make (a new card, charge-now).",
        }),
        count: z.number().int(),
      }),
    )
    .openapi({ description: 'The recovered episodes by the attempt that recovered them.' }),
};

export const DunningReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    gateway: z.string().nullable(),
    totals: z.object(DunningFiguresShape),
    groups: z
      .array(
        z.object({
          gateway: z.string(),
          policy: z
            .object({
              attempt_offsets: z
                .array(z.number().int())
                .openapi({ description: 'Milliseconds after the failure.' }),
              final_action: z.enum(DUNNING_FINAL_ACTIONS),
            })
            .openapi({ description: "The policy's ladder when the episodes opened." }),
          ...DunningFiguresShape,
        }),
      )
      .openapi({ description: 'By gateway and policy ladder.' }),
    subscriptions_read: z.number().int().openapi({
      description: 'Subscriptions with an episode opened or closed since `from`, each read once.',
    }),
  })
  .openapi('DunningReport');
export type DunningReportResponse = z.output<typeof DunningReportSchema>;

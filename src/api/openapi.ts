/**
 * The API's routes, one definition each ({@link routeSpec}: method, path, request, responses and
 * an `operationId`), and the OpenAPI 3.1 document generated from them. Express mounts every route
 * from its definition (`handle` in `route.ts`), and the zod schemas here are the ones that
 * validate the requests and type the responses, so the document cannot drift from the code.
 * Served at `GET /openapi.json`.
 */
import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  CancelBodySchema,
  ChangePaymentTokenBodySchema,
  ChangeProductsBodySchema,
  ChangePriceBodySchema,
  ChangeTotalBillingCyclesBodySchema,
  ChargeBodySchema,
  ChargeResultSchema,
  CreateCustomerBodySchema,
  CreateProductBodySchema,
  CreateTestClockBodySchema,
  AdvanceTestClockBodySchema,
  TestClockParamsSchema,
  TestClockSchema,
  CreateSubscriptionBodySchema,
  CreationParamsSchema,
  CreationSchema,
  CustomerParamsSchema,
  CustomerListSchema,
  CustomerSchema,
  DeletedSchema,
  ListCustomersQuerySchema,
  ListProductsQuerySchema,
  ProductListSchema,
  ProductParamsSchema,
  UpdateCustomerBodySchema,
  UpdateProductBodySchema,
  DunningPolicyOverrideBodySchema,
  EmptyBodySchema,
  ErrorResponseSchema,
  HealthSchema,
  IdempotencyHeadersSchema,
  ListQuerySchema,
  ListSubscriptionsQuerySchema,
  OrderListSchema,
  HoldBodySchema,
  PauseBodySchema,
  ScheduleQuerySchema,
  ScheduleSchema,
  OptionalIdempotencyHeadersSchema,
  PaymentTokenListSchema,
  ProductSchema,
  QfpayNotificationBodySchema,
  ReadinessSchema,
  SubscriptionListSchema,
  SubscriptionParamsSchema,
  SubscriptionViewSchema,
  ListMerchantEventsQuerySchema,
  ListEventsQuerySchema,
  DunningReportQuerySchema,
  DunningReportSchema,
  EventListSchema,
  EventSchema,
  MerchantEndpointSchema,
  MerchantEventListSchema,
  MerchantEventParamsSchema,
  GatewayCreateSubscriptionBodySchema,
  SetMetadataBodySchema,
  GatewayListSchema,
  GatewayParamsSchema,
} from './schemas';

/** Security requirement of the merchant routes: either way of sending the API key. */
const API_KEY_SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }];

const requestIdHeader = z.object({
  'X-Request-Id': z
    .string()
    .openapi({ description: "The request's id (the caller's, or a generated UUID)." }),
});

function json(description: string, schema: z.ZodType, headers?: z.ZodObject): ResponseConfig {
  return {
    description,
    headers: headers ? requestIdHeader.extend(headers.shape) : requestIdHeader,
    content: { 'application/json': { schema } },
  };
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`validation_error`); `details` names each bad field.',
  401: 'Missing or invalid API key (`unauthorized`).',
  404: 'Not found (`not_found`).',
  409: 'The subscription refused the change (`conflict`); `message` says why.',
  413: 'Request body too large (`validation_error`).',
  415: 'A body that is not `application/json`, or an encoding or charset the API does not read (`validation_error`).',
  422: 'The Idempotency-Key was used with a different body (`idempotency_mismatch`).',
  429: 'Too many requests with this API key (`rate_limited`); wait `Retry-After` seconds.',
  500: 'Unexpected error (`internal`).',
  502: 'QFPay (`qfpay_error`) or a gateway behind the port (`gateway_error`) answered unusably or refused the request.',
  503:
    'Temporal (`temporal_unavailable`), QFPay (`qfpay_error`) or a gateway (`gateway_unavailable`: not configured, ' +
    'or no answer) is unavailable; retry later.',
};

function errors(...statuses: number[]): Record<string, ResponseConfig> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      json(ERROR_DESCRIPTIONS[status] ?? 'Error', ErrorResponseSchema),
    ]),
  );
}

const jsonBody = (schema: z.ZodType, description?: string) => ({
  required: true,
  ...(description ? { description } : {}),
  content: { 'application/json': { schema } },
});

const IDEMPOTENT_CREATE =
  'With an `Idempotency-Key` the record is created once per key: a retry with the same key and body returns ' +
  'the first result (200, `Idempotent-Replayed: true`), another body is refused (422), and a creation still ' +
  'running after about 20 s answers 503 `creation_pending` (retry with the key). Keys belong to the merchant, ' +
  'whichever API key sends them. Without a key every request creates anew.';

/** Error answers every authenticated route can give. */
const MERCHANT_ERRORS = [400, 401, 415, 429, 500, 503];

/**
 * A route of the API: its OpenAPI operation (method, path, request and responses), whether it
 * takes the merchant's API key, and its `operationId`. The one definition of the route: Express
 * mounts it from here (`handle` in `route.ts`), and the document is generated from it.
 */
export type RouteSpec = RouteConfig & { operationId: string };

const open = (route: RouteConfig): RouteConfig => route;
const merchant = (route: RouteConfig): RouteConfig => ({ ...route, security: API_KEY_SECURITY });

/** A change of a subscription (`POST /v1/subscriptions/{subscriptionId}/<path>`): its answer is the subscription. */
const change = (
  path: string,
  summary: string,
  body: z.ZodType | undefined,
  description?: string,
): RouteConfig =>
  merchant({
    method: 'post',
    path: `/v1/subscriptions/{subscriptionId}/${path}`,
    tags: ['subscriptions'],
    summary,
    ...(description ? { description } : {}),
    request: {
      params: SubscriptionParamsSchema,
      ...(body ? { body: { ...jsonBody(body), required: false } } : {}),
    },
    responses: {
      200: json('Done; the subscription as it is now.', SubscriptionViewSchema),
      ...errors(...MERCHANT_ERRORS, 404, 409, 502),
    },
  });

/** Every route of the API, by its operation id, in the document's order. */
const ROUTES = {
  // Operations ------------------------------------------------------------------------------------
  healthz: open({
    method: 'get',
    path: '/healthz',
    tags: ['operations'],
    summary: 'Liveness: the process is up',
    responses: { 200: json('Up.', HealthSchema) },
  }),
  readyz: open({
    method: 'get',
    path: '/readyz',
    tags: ['operations'],
    summary: 'Readiness: Temporal answers',
    responses: {
      200: json('Temporal answered.', ReadinessSchema),
      503: json('Temporal did not answer.', ReadinessSchema),
    },
  }),
  openApiDocument: open({
    method: 'get',
    path: '/openapi.json',
    tags: ['operations'],
    summary: 'This document',
    responses: {
      200: {
        description: 'The OpenAPI 3.1 document.',
        content: { 'application/json': { schema: z.object({}).catchall(z.unknown()) } },
      },
    },
  }),

  // QFPay webhook ---------------------------------------------------------------------------------
  qfpayWebhook: open({
    method: 'post',
    path: '/webhooks/qfpay',
    tags: ['webhooks'],
    summary: "Receives QFPay's notifications",
    description:
      'QFPay posts `subscription`, `subscription_payment` and `payment_token` notifications here. The ' +
      'signature is verified on the raw body first; the notification is signalled to its workflow ' +
      '(started if need be) and `SUCCESS` is answered only once Temporal accepted it. Any other answer ' +
      'makes QFPay deliver it again; duplicates are expected and harmless.',
    request: {
      headers: z.object({
        'X-QF-SIGN': z.string().openapi({ description: 'Upper-case hex MD5 of (raw body + app key).' }),
      }),
      body: jsonBody(QfpayNotificationBodySchema),
    },
    responses: {
      200: {
        description: 'Taken: the fact is durably with its workflow.',
        content: { 'text/plain': { schema: z.literal('SUCCESS') } },
      },
      400: json(
        'Malformed JSON, an undocumented notification, or one that cannot become a fact.',
        ErrorResponseSchema,
      ),
      401: json(
        'Missing or wrong `X-QF-SIGN` (`invalid_signature`); nothing was signalled.',
        ErrorResponseSchema,
      ),
      ...errors(413, 500, 503),
    },
  }),

  // Gateways behind the port -----------------------------------------------------------------------
  gatewayWebhook: open({
    method: 'post',
    path: '/webhooks/{gateway}',
    tags: ['webhooks'],
    summary: "Receives a gateway's notifications (QorePay, the card gateway, …)",
    description:
      "Each gateway's notifications are verified by its own rule on the raw body (see its README), read " +
      "into the engine's facts and signalled to each fact's subscription (started if need be) before the " +
      "gateway's acknowledgement is sent. Duplicates and late notifications are expected and harmless.",
    request: { params: GatewayParamsSchema },
    responses: {
      200: { description: "Taken: the gateway's acknowledgement (its own body and type)." },
      400: json(
        'A body that is not the gateway’s documented shape (the field is named).',
        ErrorResponseSchema,
      ),
      401: json(
        'A missing or wrong signature (`invalid_signature`); nothing was signalled.',
        ErrorResponseSchema,
      ),
      404: json('No gateway by that name.', ErrorResponseSchema),
      ...errors(413, 500, 503),
    },
  }),
  listGateways: merchant({
    method: 'get',
    path: '/v1/gateways',
    tags: ['gateways'],
    summary: 'The gateways and what each can do',
    request: { query: ListQuerySchema },
    responses: { 200: json('The gateways, QFPay first.', GatewayListSchema), ...errors(...MERCHANT_ERRORS) },
  }),
  createGatewaySubscription: merchant({
    method: 'post',
    path: '/v1/gateways/{gateway}/subscriptions',
    tags: ['gateways'],
    summary: 'Create a subscription on a gateway behind the port (idempotent)',
    description:
      'As `POST /v1/subscriptions` (which is QFPay’s): keyed by `Idempotency-Key`, waits up to about 20 s. The ' +
      'subscription id is `<gateway>:<the gateway’s id>`; every `/v1/subscriptions/{subscriptionId}` route takes it.',
    request: {
      params: GatewayParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: jsonBody(GatewayCreateSubscriptionBodySchema),
    },
    responses: {
      201: json('Created.', CreationSchema),
      200: json('A retry of a finished creation: the same result.', CreationSchema),
      202: json('Still running; poll the `Location`.', CreationSchema),
      ...errors(...MERCHANT_ERRORS, 404, 422, 502),
    },
  }),

  // Customers and products ------------------------------------------------------------------------
  createCustomer: merchant({
    method: 'post',
    path: '/v1/customers',
    tags: ['customers'],
    summary: 'Create a customer at QFPay (idempotent with a key)',
    description: IDEMPOTENT_CREATE,
    request: { headers: OptionalIdempotencyHeadersSchema, body: jsonBody(CreateCustomerBodySchema) },
    responses: {
      201: json('Created.', CustomerSchema),
      200: json(
        'Created by an earlier request with this Idempotency-Key (`Idempotent-Replayed: true`).',
        CustomerSchema,
      ),
      ...errors(...MERCHANT_ERRORS, 422, 502),
    },
  }),
  listCustomerTokens: merchant({
    method: 'get',
    path: '/v1/customers/{customerId}/tokens',
    tags: ['customers'],
    summary: "The customer's payment tokens reported by QFPay",
    description:
      'Tokens learned from `payment_token` notifications (masked card data only); empty when none came. ' +
      'A customer QFPay does not have is a 404.',
    request: { params: CustomerParamsSchema, query: ListQuerySchema },
    responses: {
      200: json('One page of the tokens, oldest first.', PaymentTokenListSchema),
      ...errors(...MERCHANT_ERRORS, 404, 502),
    },
  }),
  createProduct: merchant({
    method: 'post',
    path: '/v1/products',
    tags: ['products'],
    summary: 'Create a recurring product at QFPay (idempotent with a key)',
    description: IDEMPOTENT_CREATE,
    request: { headers: OptionalIdempotencyHeadersSchema, body: jsonBody(CreateProductBodySchema) },
    responses: {
      201: json('Created.', ProductSchema),
      200: json(
        'Created by an earlier request with this Idempotency-Key (`Idempotent-Replayed: true`).',
        ProductSchema,
      ),
      ...errors(...MERCHANT_ERRORS, 422, 502),
    },
  }),

  listCustomers: merchant({
    method: 'get',
    path: '/v1/customers',
    tags: ['customers'],
    summary: 'List customers at QFPay, page by page',
    description:
      "QFPay's `customer/v1/query`, filtered by name, email or phone. QFPay does not say how many there are: " +
      'a full page has a `next_cursor` even when nothing follows (the next page is then empty).',
    request: { query: ListCustomersQuerySchema },
    responses: {
      200: json('One page, oldest first.', CustomerListSchema),
      ...errors(...MERCHANT_ERRORS, 502),
    },
  }),
  getCustomer: merchant({
    method: 'get',
    path: '/v1/customers/{customerId}',
    tags: ['customers'],
    summary: 'Read a customer',
    request: { params: CustomerParamsSchema },
    responses: { 200: json('The customer.', CustomerSchema), ...errors(...MERCHANT_ERRORS, 404, 502) },
  }),
  updateCustomer: merchant({
    method: 'patch',
    path: '/v1/customers/{customerId}',
    tags: ['customers'],
    summary: "Change a customer's name, email, phone or billing address",
    request: { params: CustomerParamsSchema, body: jsonBody(UpdateCustomerBodySchema) },
    responses: { 200: json('Changed.', CustomerSchema), ...errors(...MERCHANT_ERRORS, 404, 502) },
  }),
  deleteCustomer: merchant({
    method: 'delete',
    path: '/v1/customers/{customerId}',
    tags: ['customers'],
    summary: 'Delete a customer at QFPay',
    description:
      'QFPay cancels every running subscription of the customer; their workflows learn it from QFPay ' +
      '(notification or reconciliation) and end as CANCELLED.',
    request: { params: CustomerParamsSchema },
    responses: { 200: json('Deleted.', DeletedSchema), ...errors(...MERCHANT_ERRORS, 404, 502) },
  }),
  listProducts: merchant({
    method: 'get',
    path: '/v1/products',
    tags: ['products'],
    summary: 'List products at QFPay, page by page',
    description:
      "QFPay's `product/v1/query`, filtered by name, currency or interval. As for customers, a full page has a " +
      '`next_cursor` even when nothing follows.',
    request: { query: ListProductsQuerySchema },
    responses: {
      200: json('One page, oldest first.', ProductListSchema),
      ...errors(...MERCHANT_ERRORS, 502),
    },
  }),
  getProduct: merchant({
    method: 'get',
    path: '/v1/products/{productId}',
    tags: ['products'],
    summary: 'Read a product',
    request: { params: ProductParamsSchema },
    responses: { 200: json('The product.', ProductSchema), ...errors(...MERCHANT_ERRORS, 404, 502) },
  }),
  updateProduct: merchant({
    method: 'patch',
    path: '/v1/products/{productId}',
    tags: ['products'],
    summary: "Change a product's name or description",
    description:
      'QFPay fixes the price, currency and interval of a product; make a new product to change them.',
    request: { params: ProductParamsSchema, body: jsonBody(UpdateProductBodySchema) },
    responses: { 200: json('Changed.', ProductSchema), ...errors(...MERCHANT_ERRORS, 404, 502) },
  }),
  deleteProduct: merchant({
    method: 'delete',
    path: '/v1/products/{productId}',
    tags: ['products'],
    summary: 'Delete a product no subscription uses',
    description: "A product a subscription still uses is refused (409, with QFPay's message).",
    request: { params: ProductParamsSchema },
    responses: { 200: json('Deleted.', DeletedSchema), ...errors(...MERCHANT_ERRORS, 404, 409, 502) },
  }),

  // Subscriptions ---------------------------------------------------------------------------------
  createSubscription: merchant({
    method: 'post',
    path: '/v1/subscriptions',
    tags: ['subscriptions'],
    summary: 'Create a subscription (idempotent)',
    description:
      'Starts the durable creation keyed by `Idempotency-Key` and waits up to about 20 s. Retrying with the ' +
      'same key and body returns the same subscription (200); a different body is refused (422).',
    request: { headers: IdempotencyHeadersSchema, body: jsonBody(CreateSubscriptionBodySchema) },
    responses: {
      201: json('Created.', CreationSchema),
      200: json('A retry of a finished creation: the same result.', CreationSchema),
      202: json(
        'Still running; poll the `Location`.',
        CreationSchema,
        z.object({ Location: z.string().openapi({ example: '/v1/subscriptions/creations/order-7f3c2a' }) }),
      ),
      ...errors(...MERCHANT_ERRORS, 404, 409, 422, 502),
    },
  }),
  getCreation: merchant({
    method: 'get',
    path: '/v1/subscriptions/creations/{idempotencyKey}',
    tags: ['subscriptions'],
    summary: 'Status of a creation',
    request: { params: CreationParamsSchema },
    responses: {
      200: json('Running, completed (with the result) or failed (with the error).', CreationSchema),
      ...errors(...MERCHANT_ERRORS, 404),
    },
  }),
  listSubscriptions: merchant({
    method: 'get',
    path: '/v1/subscriptions',
    tags: ['subscriptions'],
    summary: 'List subscriptions by state, customer, metadata or test clock',
    description:
      "Temporal visibility on the engine's search attributes; eventually consistent (about a second).",
    request: { query: ListSubscriptionsQuerySchema },
    responses: { 200: json('One page.', SubscriptionListSchema), ...errors(...MERCHANT_ERRORS) },
  }),
  getSubscription: merchant({
    method: 'get',
    path: '/v1/subscriptions/{subscriptionId}',
    tags: ['subscriptions'],
    summary: 'The lifecycle of one subscription',
    request: { params: SubscriptionParamsSchema },
    responses: {
      200: json('What the engine knows.', SubscriptionViewSchema),
      ...errors(...MERCHANT_ERRORS, 404),
    },
  }),

  listSubscriptionOrders: merchant({
    method: 'get',
    path: '/v1/subscriptions/{subscriptionId}/orders',
    tags: ['subscriptions'],
    summary: "The subscription's orders, newest first, each with every payment attempt",
    description:
      "Orders from QFPay's `billing_order/v1/list`; attempts from the notifications and charges the engine " +
      "saw (QFPay's list shows only an order's last attempt, which is added when the engine missed it). " +
      "On a gateway behind the port, the orders its adapter's sync reads.",
    request: { params: SubscriptionParamsSchema, query: ListQuerySchema },
    responses: { 200: json('One page.', OrderListSchema), ...errors(...MERCHANT_ERRORS, 404, 502, 503) },
  }),
  getSubscriptionSchedule: merchant({
    method: 'get',
    path: '/v1/subscriptions/{subscriptionId}/schedule',
    tags: ['subscriptions'],
    summary: 'The next billing times and amounts, and the planned dunning attempts',
    description:
      'Billing times are whole intervals from the anchor (the first billing time), calendar months in ' +
      "QFPay's region time, as QFPay bills; amounts are the products' prices times their quantities now. " +
      "On a gateway behind the port, its adapter's plan, counted in UTC (409 while the gateway has no schedule yet).",
    request: { params: SubscriptionParamsSchema, query: ScheduleQuerySchema },
    responses: {
      200: json('The schedule.', ScheduleSchema),
      ...errors(...MERCHANT_ERRORS, 404, 409, 502, 503),
    },
  }),

  cancelSubscription: change(
    'cancel',
    'Cancel the subscription at its gateway, now or at the end of the current period',
    CancelBodySchema,
    'Now (the default): the gateway cancels at once. With `at_period_end: true` the engine schedules the cancel ' +
      'on a durable timer and sends it before the next billing time, by the same deadline as a manual charge; the ' +
      'subscription shows it in `scheduled_cancel` and the merchant gets `subscription.cancel_scheduled`, then ' +
      '`subscription.state_changed` and `subscription.ended` when it is carried out. Asking again keeps the first ' +
      'schedule. 409 for an ended subscription, one with no known next billing time, or a next billing time too ' +
      'close to cancel before it safely (cancel now instead).',
  ),
  undoCancelSubscription: change(
    'cancel/undo',
    'Take back a cancel scheduled for the end of the period',
    EmptyBodySchema,
    'The schedule goes and the merchant gets `subscription.cancel_unscheduled`. 409 when no cancel is scheduled or ' +
      'the subscription has already ended.',
  ),
  setSubscriptionMetadata: merchant({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/metadata',
    tags: ['subscriptions'],
    summary: "Set or remove keys of the subscription's metadata",
    description:
      'Each key given is set; a null value removes the key; keys not given stay. 400 naming `metadata` when a key ' +
      'or value is beyond the limits, or when the metadata would have more than 50 keys after the change; 409 for ' +
      'an ended subscription. The metadata shows in the subscription, the list (`metadata_key` and ' +
      '`metadata_value` list by one pair) and every merchant event recorded after the change.',
    request: { params: SubscriptionParamsSchema, body: jsonBody(SetMetadataBodySchema) },
    responses: {
      200: json('Set.', SubscriptionViewSchema),
      ...errors(...MERCHANT_ERRORS, 404, 409),
    },
  }),
  changePaymentToken: merchant({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/payment-token',
    tags: ['subscriptions'],
    summary: 'Change the card (payment token)',
    request: { params: SubscriptionParamsSchema, body: jsonBody(ChangePaymentTokenBodySchema) },
    responses: {
      200: json('Changed.', SubscriptionViewSchema),
      ...errors(...MERCHANT_ERRORS, 404, 409, 502),
    },
  }),
  changeTotalBillingCycles: merchant({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/total-billing-cycles',
    tags: ['subscriptions'],
    summary: 'Change the number of billing cycles',
    request: { params: SubscriptionParamsSchema, body: jsonBody(ChangeTotalBillingCyclesBodySchema) },
    responses: {
      200: json('Changed.', SubscriptionViewSchema),
      ...errors(...MERCHANT_ERRORS, 404, 502),
      409: json(
        'Refused (`conflict`), the message says why: null on a finite plan (QFPay cannot change a finite plan to ' +
          'infinite; create a new subscription instead), a total below the cycles already paid, a gateway ' +
          'without cycles, or an ended subscription.',
        ErrorResponseSchema,
      ),
    },
  }),
  chargeNow: merchant({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/charge',
    tags: ['subscriptions'],
    summary: 'Charge a failed order now',
    description:
      'Refused (409) unless the subscription is PAST_DUE, UNPAID or INCOMPLETE with a failed order and the next billing time is far enough.',
    request: { params: SubscriptionParamsSchema, body: { ...jsonBody(ChargeBodySchema), required: false } },
    responses: {
      200: json("QFPay's answer and the subscription after it.", ChargeResultSchema),
      ...errors(...MERCHANT_ERRORS, 404, 409, 502),
    },
  }),
  syncSubscription: change('sync', 'Ask QFPay now and apply what it says', EmptyBodySchema),
  changeProducts: change(
    'products',
    'Change the products or their quantities',
    ChangeProductsBodySchema,
    "QFPay's `subscription/v1/update` with the whole new plan. The current cycle's order keeps its amount " +
      '(also when it is retried or charged by hand); the new plan is billed from the next billing time on. ' +
      "Every product must be in the subscription's currency: a product in another one is a 409 naming its line " +
      '(`products.<n>.product_id`), before anything changes.',
  ),
  changePrice: change(
    'price',
    'Set this subscription’s own price',
    ChangePriceBodySchema,
    'From the next billing on, each cycle bills `amount` in the subscription’s currency (the current ' +
      'cycle keeps its amount). Only a gateway that prices one subscriber (QorePay, by the subscriber’s ' +
      '`invoice_override`; `capabilities.change_price` in GET /v1/gateways) can; elsewhere it is a 409 ' +
      'naming what the gateway cannot do (on QFPay, change the products instead). A price in another ' +
      'currency is a 409.',
  ),
  pauseBilling: change(
    'pause',
    'Pause billing at the gateway until resumed',
    PauseBodySchema,
    'Only a gateway that can pause (QorePay; `capabilities.pause` in GET /v1/gateways) pauses billing; ' +
      'the engine then also holds its own dunning, and emits `subscription.billing_paused`. On a gateway ' +
      'without a pause (QFPay, MadFintech) it is refused with a 409: the gateway would go on charging the ' +
      'card. Cancel the subscription instead, or hold the engine’s dunning (`…/dunning/hold`).',
  ),
  resumeBilling: change(
    'resume',
    'Resume billing at the gateway',
    EmptyBodySchema,
    'Refused (409) when billing is not paused at the gateway. Dunning is planned again from now; emits ' +
      '`subscription.billing_resumed`.',
  ),
  holdDunning: change(
    'dunning/hold',
    'Hold the engine’s own dunning (no manual charge, no new episode) until released or `until`',
    HoldBodySchema,
    'The gateway goes on billing on its schedule (QFPay has no pause): only the engine’s retries of a ' +
      'failed payment and its final actions stop. Emits `subscription.dunning_held`.',
  ),
  releaseDunning: change(
    'dunning/release',
    'Release the engine’s hold on its dunning',
    EmptyBodySchema,
    'Refused (409) when dunning is not held. Dunning is planned again from now; emits ' +
      '`subscription.dunning_released`.',
  ),

  changeDunningPolicy: merchant({
    method: 'put',
    path: '/v1/subscriptions/{subscriptionId}/dunning-policy',
    tags: ['subscriptions'],
    summary: "Change the subscription's dunning policy",
    request: { params: SubscriptionParamsSchema, body: jsonBody(DunningPolicyOverrideBodySchema) },
    responses: { 200: json('Changed.', SubscriptionViewSchema), ...errors(...MERCHANT_ERRORS, 404, 409) },
  }),

  // Merchant events (the engine's own webhooks) ---------------------------------------------------
  listMerchantEvents: merchant({
    method: 'get',
    path: '/v1/merchant-events',
    tags: ['merchant-events'],
    summary: 'The delivery log of merchant events, e.g. the failed ones',
    description:
      'One entry per event: its status, attempts and last answer. `status=failed` lists what the engine gave up ' +
      'on (about three days of retries, or 410 Gone). Temporal visibility; eventually consistent (about a second).',
    request: { query: ListMerchantEventsQuerySchema },
    responses: {
      200: json('One page, newest first.', MerchantEventListSchema),
      ...errors(...MERCHANT_ERRORS),
    },
  }),
  listEvents: merchant({
    method: 'get',
    path: '/v1/events',
    tags: ['events'],
    summary: "The merchant events themselves, as the merchant's endpoint receives them",
    description:
      'A merchant whose endpoint was down catches up by listing. Filters: `type`, `subscription_id`, and ' +
      "`created_after` (inclusive) / `created_before` (exclusive) on the event's `created_at`; with a range a page may " +
      'hold fewer than `limit` events: follow `next_cursor` until it is null. Kept as long as the ' +
      'Temporal namespace keeps closed workflows (its retention, 30 days in docker-compose.yml), and only while ' +
      'merchant events are on (`MERCHANT_EVENTS_URL`). Temporal visibility; eventually consistent (about a second).',
    request: { query: ListEventsQuerySchema },
    responses: {
      200: json('One page, newest first.', EventListSchema),
      ...errors(...MERCHANT_ERRORS),
    },
  }),
  getEvent: merchant({
    method: 'get',
    path: '/v1/events/{eventId}',
    tags: ['events'],
    summary: 'One merchant event by its id (the `webhook-id` of its delivery)',
    request: { params: MerchantEventParamsSchema },
    responses: {
      200: json("The event: the body the merchant's endpoint receives.", EventSchema),
      ...errors(...MERCHANT_ERRORS, 404),
    },
  }),
  // Reports -----------------------------------------------------------------------------------------
  dunningReport: merchant({
    method: 'get',
    path: '/v1/reports/dunning',
    tags: ['reports'],
    summary:
      'Recovery figures: dunning episodes opened, recovered (at which attempt), exhausted, by gateway and policy',
    description:
      'Over `from` (inclusive) to `to` (exclusive), 30 days up to now by default, at most 366 days: the episodes ' +
      'opened in the range, and those closed in it by outcome, with the recovery rate and the attempt that recovered ' +
      'each order (0: paid without a manual charge of the engine). Grouped by gateway and by the policy ladder ' +
      "(attempt offsets and final action) the episode opened under. Read from the subscriptions' own workflows " +
      '(each keeps its last 12 episodes), the ones with an episode since `from` only; Temporal visibility lists ' +
      'them, eventually consistent (about a second).',
    request: { query: DunningReportQuerySchema },
    responses: {
      200: json('The figures.', DunningReportSchema),
      ...errors(...MERCHANT_ERRORS),
    },
  }),
  redeliverMerchantEvent: merchant({
    method: 'post',
    path: '/v1/merchant-events/{eventId}/redeliver',
    tags: ['merchant-events'],
    summary: 'Send an event again (same id, same body), with a new schedule of attempts',
    request: { params: MerchantEventParamsSchema, body: { ...jsonBody(EmptyBodySchema), required: false } },
    responses: {
      202: json('A new delivery started.', z.object({ event_id: z.string(), status: z.literal('pending') })),
      ...errors(...MERCHANT_ERRORS, 404, 409),
    },
  }),
  getMerchantEndpoint: merchant({
    method: 'get',
    path: '/v1/merchant-endpoint',
    tags: ['merchant-events'],
    summary: "The merchant endpoint's switch (an endpoint that answers 410 Gone is turned off)",
    responses: { 200: json('The switch.', MerchantEndpointSchema), ...errors(...MERCHANT_ERRORS) },
  }),
  enableMerchantEndpoint: merchant({
    method: 'post',
    path: '/v1/merchant-endpoint/enable',
    tags: ['merchant-events'],
    summary: 'Turn the merchant endpoint back on',
    description: 'Events that failed while it was off stay failed: redeliver them.',
    request: { body: { ...jsonBody(EmptyBodySchema), required: false } },
    responses: { 200: json('On.', MerchantEndpointSchema), ...errors(...MERCHANT_ERRORS, 409) },
  }),

  // Test clocks (only where the gateways are emulators) --------------------------------------------
  createTestClock: merchant({
    method: 'post',
    path: '/v1/test_clocks',
    tags: ['test-clocks'],
    summary: 'Make a test clock, frozen at a time',
    description:
      'Only where the gateways are emulators (refused with 409 in production and for a QFPay configured for ' +
      'real). The clock is made at every gateway emulator: one that refuses or cannot be reached is a 502 ' +
      'naming it, and nothing is kept (should a world made at another emulator not be removable either, the 502 ' +
      'names where it stays). Customers, products and subscriptions made with `test_clock` live on it.',
    request: { body: jsonBody(CreateTestClockBodySchema) },
    responses: { 201: json('Made.', TestClockSchema), ...errors(...MERCHANT_ERRORS, 409, 502) },
  }),
  getTestClock: merchant({
    method: 'get',
    path: '/v1/test_clocks/{testClockId}',
    tags: ['test-clocks'],
    summary: 'Read a test clock: its time and whether it is advancing',
    request: { params: TestClockParamsSchema },
    responses: { 200: json('The clock.', TestClockSchema), ...errors(...MERCHANT_ERRORS, 404) },
  }),
  advanceTestClock: merchant({
    method: 'post',
    path: '/v1/test_clocks/{testClockId}/advance',
    tags: ['test-clocks'],
    summary: 'Advance a test clock: everything due on it happens, in time order',
    description:
      'Answered at once with the clock `advancing`; it is `ready` again at the new time once every billing, ' +
      'retry, dunning attempt, reminder and scheduled cancel due on the way has happened, in time order.',
    request: { params: TestClockParamsSchema, body: jsonBody(AdvanceTestClockBodySchema) },
    responses: { 200: json('Advancing.', TestClockSchema), ...errors(...MERCHANT_ERRORS, 404, 409) },
  }),
  deleteTestClock: merchant({
    method: 'delete',
    path: '/v1/test_clocks/{testClockId}',
    tags: ['test-clocks'],
    summary: 'Remove a test clock and end the subscriptions on it',
    description:
      'The clock is removed from every gateway emulator first: one that refuses or cannot be reached is a 502 ' +
      'naming it, and the clock stays, with its subscriptions; asking again finishes the removal.',
    request: { params: TestClockParamsSchema },
    responses: { 200: json('Removed.', DeletedSchema), ...errors(...MERCHANT_ERRORS, 404, 502) },
  }),
} satisfies Record<string, RouteConfig>;

/** A route's operation id. */
export type OperationId = keyof typeof ROUTES;

/** A route by its operation id, with that id. */
export function routeSpec(id: OperationId): RouteSpec {
  return { ...ROUTES[id], operationId: id };
}

/** Every route, in the document's order. */
export function routeSpecs(): RouteSpec[] {
  return (Object.keys(ROUTES) as OperationId[]).map(routeSpec);
}

/** The generated document's type. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

let cached: OpenApiDocument | undefined;

/**
 * The API's OpenAPI 3.1 document (built once per process; treat it as read-only).
 * @returns paths for every route, the schemas under `components.schemas`, and the API-key
 *   security schemes
 */
export function openApiDocument(): OpenApiDocument {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A merchant API key from `API_KEYS`: `Authorization: Bearer <key>`.',
  });
  registry.registerComponent('securitySchemes', 'apiKeyHeader', {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: 'The same API key in `X-API-Key`.',
  });
  for (const route of routeSpecs()) registry.registerPath(route);
  cached = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'QFPay subscription engine API',
      version: '1.0.0',
      description:
        'Merchant API and QFPay webhook receiver of the QFPay subscription engine. Every non-2xx JSON answer ' +
        'has the shape `ErrorResponse`; every response carries `X-Request-Id`.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'subscriptions' },
      { name: 'customers' },
      { name: 'products' },
      { name: 'webhooks' },
      { name: 'merchant-events' },
      { name: 'events' },
      { name: 'reports' },
      {
        name: 'test-clocks',
        description: 'Test clocks: a year of billing in seconds, where the gateways are emulators.',
      },
      { name: 'operations' },
    ],
  });
  return cached;
}

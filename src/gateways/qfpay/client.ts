/**
 * The QFPay open-API client for customers, products, subscriptions and subscription orders.
 * It talks to QFPay's sandbox and production hosts and to the engine's emulator alike: signed
 * form POSTs, an explicit timeout on every call, zod-validated responses, and every failure a
 * {@link QfpayError} classified for retrying.
 */
import { type z } from 'zod';
import {
  QfpayError,
  RESPCD_SUCCESS,
  classifyHttpStatus,
  type QfpayErrorKind,
  type QfpayErrorReason,
} from './errors';
import {
  billingOrderListSchema,
  customerDeleteSchema,
  customerListSchema,
  customerSchema,
  customerUpdateSchema,
  envelopeSchema,
  productCreateSchema,
  productDeleteSchema,
  productListSchema,
  productUpdateSchema,
  subscriptionCancelSchema,
  subscriptionChargeSchema,
  subscriptionCreateSchema,
  subscriptionListSchema,
  subscriptionUpdateSchema,
  type BillingOrder,
  type Customer,
  type CustomerDeleteResult,
  type CustomerUpdateResult,
  type Product,
  type ProductCreateResult,
  type ProductDeleteResult,
  type ProductUpdateResult,
  type QfpayEnvelope,
  type Subscription,
  type SubscriptionCancelResult,
  type SubscriptionChargeResult,
  type SubscriptionCreateResult,
  type SubscriptionUpdateResult,
} from './schemas';
import { signRequest, wireParams, type ParamValue, type SignType } from './signing';
import { DEFAULT_QFPAY_TIME_OFFSET, formatQfpayNaiveTime, parseQfpayTime } from './time';
import { TEST_CLOCK_HEADER } from '../test-clock-header';

/** QFPay's documented API paths. */
export const QFPAY_ENDPOINTS = {
  createCustomer: '/customer/v1/create',
  updateCustomer: '/customer/v1/update',
  queryCustomers: '/customer/v1/query',
  deleteCustomer: '/customer/v1/delete',
  createProduct: '/product/v1/create',
  updateProduct: '/product/v1/update',
  queryProducts: '/product/v1/query',
  deleteProduct: '/product/v1/delete',
  createSubscription: '/subscription/v1/create',
  updateSubscription: '/subscription/v1/update',
  querySubscriptions: '/subscription/v1/query',
  cancelSubscription: '/subscription/v1/cancel',
  chargeSubscription: '/subscription/v1/charge',
  listBillingOrders: '/subscription/billing_order/v1/list',
} as const;
export type QfpayEndpoint = (typeof QFPAY_ENDPOINTS)[keyof typeof QFPAY_ENDPOINTS];

/** Default request timeout. */
export const DEFAULT_QFPAY_TIMEOUT_MS = 10_000;
/** QFPay's page size limit on query endpoints. */
export const MAX_PAGE_SIZE = 100;
/** QFPay's default page size. */
export const DEFAULT_PAGE_SIZE = 10;

/** What {@link QfpayClientOptions.onRequest} hears after every call. No parameters, no keys. */
export interface QfpayRequestEvent {
  endpoint: QfpayEndpoint;
  durationMs: number;
  outcome: 'success' | QfpayErrorKind | 'aborted';
  reason?: QfpayErrorReason;
  respcd?: string;
  httpStatus?: number;
}

/** How to reach QFPay and as whom. */
export interface QfpayClientOptions {
  /** e.g. `https://openapi-hk.qfapi.com`, or the emulator's URL; a path prefix is kept. */
  baseUrl: string;
  /** Sent as `X-QF-APPCODE`. */
  appCode: string;
  /** Signs requests; never sent, logged or put into errors. */
  appKey: string;
  /** @default 'MD5' (SHA256 adds the `X-QF-SIGNTYPE: SHA256` header) */
  signType?: SignType;
  /** @default {@link DEFAULT_QFPAY_TIMEOUT_MS} */
  timeoutMs?: number;
  /** UTC offset in which `start_time` is written. @default {@link DEFAULT_QFPAY_TIME_OFFSET} */
  timeOffset?: string;
  /** @default the global `fetch` */
  fetch?: typeof fetch;
  /** Called after every call for logging and metrics; its errors are ignored. */
  onRequest?: (event: QfpayRequestEvent) => void;
}

/** Per-call options. */
export interface CallOptions {
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
  /**
   * Aborts the call (e.g. a Temporal activity's cancellation signal). The call then rejects
   * with the signal's `reason`, not a {@link QfpayError}.
   */
  signal?: AbortSignal;
  /** The test clock the call is for, at the emulator (`TEST_CLOCK_HEADER`); never for QFPay itself. */
  testClock?: string;
}

/** A page of a query endpoint. */
export interface Page<T> {
  items: T[];
  /** The page QFPay says it returned (or the one asked for). */
  page: number;
  /** The page size QFPay says it used (or the one asked for). */
  pageSize: number;
}

/** Paging parameters of query endpoints. */
export interface PageInput {
  /** 1-based. @default 1 */
  page?: number;
  /** At most {@link MAX_PAGE_SIZE}. @default 10 at QFPay */
  page_size?: number;
}

/** A time QFPay should read: a `Date`, epoch ms, or a string (naive in the client's offset, or ISO-8601 with a zone). */
export type QfpayTimeInput = Date | number | string;

/** A JSON object such as a billing address; sent as a JSON string. */
export type JsonObject = { [key: string]: unknown };

export interface CreateCustomerInput {
  name?: string;
  phone?: string;
  email?: string;
  billing_address?: JsonObject;
}

export interface UpdateCustomerInput extends CreateCustomerInput {
  customer_id: string;
}

export interface QueryCustomersInput extends PageInput {
  customer_id?: string;
  name?: string;
  phone?: string;
  email?: string;
}

export type ProductType = 'onetime' | 'recurring';
/** `monthly` or `yearly`; the sandbox also takes minutes or hours for testing. */
export type ProductInterval = 'monthly' | 'yearly' | (string & {});

export interface CreateProductInput {
  name: string;
  /** @default 'onetime' at QFPay */
  type?: ProductType;
  description?: string;
  /** Positive integer in minor units (HK$1 = 100). */
  txamt: number;
  /** e.g. `HKD`. */
  txcurrcd: string;
  /** Required for recurring products. */
  interval?: ProductInterval;
  /** Required for recurring products; at most one year in total. */
  interval_count?: number;
  /** @default 'licensed' at QFPay */
  usage_type?: 'licensed';
}

export interface UpdateProductInput {
  product_id: string;
  name?: string;
  description?: string;
}

export interface QueryProductsInput extends PageInput {
  product_id?: string;
  name?: string;
  description?: string;
  txcurrcd?: string;
  interval?: ProductInterval;
}

export interface SubscriptionProductInput {
  product_id: string;
  /** @default 1 at QFPay */
  quantity?: number;
}

export interface CreateSubscriptionInput {
  customer_id: string;
  token_id: string;
  products: SubscriptionProductInput[];
  /** `null` or absent: bill forever (the parameter is then not sent). */
  total_billing_cycles?: number | null;
  /** First payment time; sent as `YYYY-MM-DD HH:mm:ss` in the client's offset. */
  start_time?: QfpayTimeInput;
}

export interface UpdateSubscriptionInput {
  subscription_id: string;
  /**
   * `null` or absent: the parameter is not sent, so QFPay keeps the current value (QFPay's wire
   * format has no way to say "change to infinite": empty parameters are dropped).
   */
  total_billing_cycles?: number | null;
  start_time?: QfpayTimeInput;
  token_id?: string;
  products?: SubscriptionProductInput[];
}

export interface QuerySubscriptionsInput extends PageInput {
  /**
   * Sent as `subscription_id`. QFPay's reference spells this parameter `subscritpion_id`; the
   * engine's emulator accepts both spellings.
   */
  subscription_id?: string;
  customer_id?: string;
  token_id?: string;
  state?: string;
}

export interface ChargeSubscriptionInput {
  subscription_id: string;
  /** The failed order to charge again. */
  subscription_order_id?: string;
}

export interface ListBillingOrdersInput extends PageInput {
  subscription_id: string;
}

/** Thrown (via `AbortController.abort`) when our own timer fires, to tell it from a caller's abort. */
class RequestTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no response within ${timeoutMs} ms`);
    this.name = 'RequestTimeout';
  }
}

/**
 * Calls QFPay's subscription APIs. One method per endpoint; each resolves with the validated
 * `data` (or a {@link Page} for queries) and rejects with a {@link QfpayError}.
 *
 * Non-idempotent calls (`create*`, `chargeSubscription`) that fail with `timeout`, `network` or
 * `server_error` may still have taken effect at QFPay: look before sending them again.
 */
export class QfpayClient {
  readonly #appKey: string;
  readonly #baseUrl: string;
  readonly #appCode: string;
  readonly #signType: SignType;
  readonly #timeoutMs: number;
  readonly #timeOffset: string;
  readonly #fetch: typeof fetch;
  readonly #onRequest: ((event: QfpayRequestEvent) => void) | undefined;

  /** @throws TypeError for a malformed base URL, empty credentials, a bad timeout or offset */
  constructor(options: QfpayClientOptions) {
    if (!URL.canParse(options.baseUrl)) throw new TypeError(`invalid QFPay base URL "${options.baseUrl}"`);
    if (!options.appCode) throw new TypeError('QFPay appCode is empty');
    if (!options.appKey) throw new TypeError('QFPay appKey is empty');
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#appCode = options.appCode;
    this.#appKey = options.appKey;
    this.#signType = options.signType ?? 'MD5';
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_QFPAY_TIMEOUT_MS);
    this.#timeOffset = options.timeOffset ?? DEFAULT_QFPAY_TIME_OFFSET;
    try {
      formatQfpayNaiveTime(0, this.#timeOffset);
    } catch (err) {
      throw new TypeError(`invalid QFPay time offset "${this.#timeOffset}"`, { cause: err });
    }
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#onRequest = options.onRequest;
  }

  // ---- customers ----------------------------------------------------------------------------

  /** Creates a customer. @returns the customer, with at least `customer_id` */
  async createCustomer(input: CreateCustomerInput, options?: CallOptions): Promise<Customer> {
    return this.#data(QFPAY_ENDPOINTS.createCustomer, { ...input }, customerSchema, options);
  }

  /** Updates a customer's contact details. */
  async updateCustomer(input: UpdateCustomerInput, options?: CallOptions): Promise<CustomerUpdateResult> {
    return this.#data(QFPAY_ENDPOINTS.updateCustomer, { ...input }, customerUpdateSchema, options);
  }

  /** Finds customers by any of the given fields. */
  async queryCustomers(input: QueryCustomersInput = {}, options?: CallOptions): Promise<Page<Customer>> {
    return this.#page(QFPAY_ENDPOINTS.queryCustomers, { ...input }, customerListSchema, options);
  }

  /** Deletes a customer for good; QFPay cancels the customer's subscriptions. */
  async deleteCustomer(input: { customer_id: string }, options?: CallOptions): Promise<CustomerDeleteResult> {
    return this.#data(QFPAY_ENDPOINTS.deleteCustomer, { ...input }, customerDeleteSchema, options);
  }

  // ---- products -----------------------------------------------------------------------------

  /** Creates a product (price, currency and, for recurring products, the billing interval). */
  async createProduct(input: CreateProductInput, options?: CallOptions): Promise<ProductCreateResult> {
    const endpoint = QFPAY_ENDPOINTS.createProduct;
    checkPositiveInt(endpoint, 'txamt', input.txamt);
    if (input.interval_count !== undefined)
      checkPositiveInt(endpoint, 'interval_count', input.interval_count);
    return this.#data(endpoint, { ...input }, productCreateSchema, options);
  }

  /** Renames or re-describes a product (price and interval cannot change). */
  async updateProduct(input: UpdateProductInput, options?: CallOptions): Promise<ProductUpdateResult> {
    return this.#data(QFPAY_ENDPOINTS.updateProduct, { ...input }, productUpdateSchema, options);
  }

  /** Finds products by any of the given fields. */
  async queryProducts(input: QueryProductsInput = {}, options?: CallOptions): Promise<Page<Product>> {
    return this.#page(QFPAY_ENDPOINTS.queryProducts, { ...input }, productListSchema, options);
  }

  /** Deletes a product that no subscription uses. */
  async deleteProduct(input: { product_id: string }, options?: CallOptions): Promise<ProductDeleteResult> {
    return this.#data(QFPAY_ENDPOINTS.deleteProduct, { ...input }, productDeleteSchema, options);
  }

  // ---- subscriptions ------------------------------------------------------------------------

  /**
   * Creates a subscription. QFPay has no idempotency key for this: after a `timeout`, `network`
   * or `server_error` failure, query by customer and token before creating again.
   */
  async createSubscription(
    input: CreateSubscriptionInput,
    options?: CallOptions,
  ): Promise<SubscriptionCreateResult> {
    const endpoint = QFPAY_ENDPOINTS.createSubscription;
    return this.#data(endpoint, this.#subscriptionParams(endpoint, input), subscriptionCreateSchema, options);
  }

  /** Changes a subscription's cycles, start time, token or products. */
  async updateSubscription(
    input: UpdateSubscriptionInput,
    options?: CallOptions,
  ): Promise<SubscriptionUpdateResult> {
    const endpoint = QFPAY_ENDPOINTS.updateSubscription;
    return this.#data(endpoint, this.#subscriptionParams(endpoint, input), subscriptionUpdateSchema, options);
  }

  /** Finds subscriptions; see {@link QuerySubscriptionsInput.subscription_id} for the parameter's spelling. */
  async querySubscriptions(
    input: QuerySubscriptionsInput = {},
    options?: CallOptions,
  ): Promise<Page<Subscription>> {
    return this.#page(QFPAY_ENDPOINTS.querySubscriptions, { ...input }, subscriptionListSchema, options);
  }

  /** Cancels a subscription immediately. */
  async cancelSubscription(
    input: { subscription_id: string },
    options?: CallOptions,
  ): Promise<SubscriptionCancelResult> {
    return this.#data(QFPAY_ENDPOINTS.cancelSubscription, { ...input }, subscriptionCancelSchema, options);
  }

  /**
   * Charges a failed order now (subscription in UNPAID, INCOMPLETE or PAST_DUE). A charge that
   * succeeds after the next billing time cancels the plan at QFPay, so callers bound it by
   * deadline. After a `timeout` or `pending` failure, list the orders before charging again.
   */
  async chargeSubscription(
    input: ChargeSubscriptionInput,
    options?: CallOptions,
  ): Promise<SubscriptionChargeResult> {
    return this.#data(QFPAY_ENDPOINTS.chargeSubscription, { ...input }, subscriptionChargeSchema, options);
  }

  /** Lists a subscription's orders (automatic and manual charges). */
  async listBillingOrders(input: ListBillingOrdersInput, options?: CallOptions): Promise<Page<BillingOrder>> {
    return this.#page(QFPAY_ENDPOINTS.listBillingOrders, { ...input }, billingOrderListSchema, options);
  }

  // ---- plumbing -----------------------------------------------------------------------------

  #subscriptionParams(
    endpoint: QfpayEndpoint,
    input: CreateSubscriptionInput | UpdateSubscriptionInput,
  ): Record<string, ParamValue> {
    const { start_time, total_billing_cycles, ...rest } = input;
    if (total_billing_cycles !== undefined && total_billing_cycles !== null) {
      checkPositiveInt(endpoint, 'total_billing_cycles', total_billing_cycles);
    }
    return {
      ...rest,
      total_billing_cycles,
      start_time: start_time === undefined ? undefined : this.#formatTime(endpoint, 'start_time', start_time),
    };
  }

  #formatTime(endpoint: QfpayEndpoint, field: string, time: QfpayTimeInput): string {
    const ms =
      time instanceof Date
        ? time.getTime()
        : typeof time === 'number'
          ? time
          : parseQfpayTime(time, this.#timeOffset);
    if (ms === undefined || !Number.isFinite(ms)) {
      throw validationError(endpoint, `${field} is not a valid time: ${String(time)}`);
    }
    return formatQfpayNaiveTime(ms, this.#timeOffset);
  }

  async #data<T>(
    endpoint: QfpayEndpoint,
    params: Record<string, ParamValue>,
    schema: z.ZodType<T>,
    options: CallOptions | undefined,
  ): Promise<T> {
    const { data } = await this.#call(endpoint, params, schema, options);
    return data;
  }

  async #page<T>(
    endpoint: QfpayEndpoint,
    params: Record<string, ParamValue> & PageInput,
    schema: z.ZodType<T[]>,
    options: CallOptions | undefined,
  ): Promise<Page<T>> {
    const { page, page_size: pageSize } = params;
    if (page !== undefined && !(Number.isInteger(page) && page >= 1)) {
      throw validationError(endpoint, `page must be an integer >= 1, got ${String(page)}`);
    }
    if (
      pageSize !== undefined &&
      !(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= MAX_PAGE_SIZE)
    ) {
      throw validationError(
        endpoint,
        `page_size must be an integer from 1 to ${MAX_PAGE_SIZE} (QFPay's limit), got ${String(pageSize)}`,
      );
    }
    const { data, envelope } = await this.#call(endpoint, params, schema, options);
    return {
      items: data,
      page: envelope.page ?? page ?? 1,
      pageSize: envelope.page_size ?? pageSize ?? DEFAULT_PAGE_SIZE,
    };
  }

  async #call<T>(
    endpoint: QfpayEndpoint,
    params: Record<string, ParamValue>,
    schema: z.ZodType<T>,
    options: CallOptions | undefined,
  ): Promise<{ data: T; envelope: QfpayEnvelope }> {
    const started = performance.now();
    const report = (event: Omit<QfpayRequestEvent, 'endpoint' | 'durationMs'>): void => {
      if (!this.#onRequest) return;
      try {
        this.#onRequest({ endpoint, durationMs: performance.now() - started, ...event });
      } catch {
        // A broken metrics hook must not fail a payment call.
      }
    };
    try {
      const result = await this.#send(endpoint, params, schema, options);
      report({ outcome: 'success', httpStatus: result.httpStatus });
      return result;
    } catch (err) {
      if (err instanceof QfpayError) {
        report({
          outcome: err.kind,
          reason: err.reason,
          ...(err.respcd === undefined ? {} : { respcd: err.respcd }),
          ...(err.httpStatus === undefined ? {} : { httpStatus: err.httpStatus }),
        });
      } else {
        report({ outcome: 'aborted' });
      }
      throw err;
    }
  }

  async #send<T>(
    endpoint: QfpayEndpoint,
    params: Record<string, ParamValue>,
    schema: z.ZodType<T>,
    options: CallOptions | undefined,
  ): Promise<{ data: T; envelope: QfpayEnvelope; httpStatus: number }> {
    const timeoutMs = checkTimeout(options?.timeoutMs ?? this.#timeoutMs);
    const wire = wireParams(params);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      accept: 'application/json',
      'x-qf-appcode': this.#appCode,
      'x-qf-sign': signRequest(wire, this.#appKey, this.#signType),
    };
    if (this.#signType === 'SHA256') headers['x-qf-signtype'] = 'SHA256';
    if (options?.testClock !== undefined) headers[TEST_CLOCK_HEADER] = options.testClock;

    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new RequestTimeout(timeoutMs)), timeoutMs);
    const signal = options?.signal ? AbortSignal.any([timer.signal, options.signal]) : timer.signal;
    let status: number;
    let retryAfter: string | null;
    let text: string;
    try {
      const response = await this.#fetch(this.#baseUrl + endpoint, {
        method: 'POST',
        headers,
        body: new URLSearchParams(wire).toString(),
        signal,
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      // The timer stays armed while the body streams in: a trickling body is a timeout too.
      text = await response.text();
    } catch (err) {
      if (timer.signal.aborted) {
        throw new QfpayError({
          kind: 'transient',
          reason: 'timeout',
          endpoint,
          message: `QFPay ${endpoint} timed out after ${timeoutMs} ms`,
          cause: timer.signal.reason,
        });
      }
      if (options?.signal?.aborted) throw options.signal.reason ?? err;
      throw new QfpayError({
        kind: 'transient',
        reason: 'network',
        endpoint,
        message: `QFPay ${endpoint} request failed: ${describeNetworkError(err)}`,
        cause: err,
      });
    } finally {
      clearTimeout(timeout);
    }

    let body: unknown;
    let bodyError: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch (err) {
      bodyError = err;
    }

    const httpClass = classifyHttpStatus(status);
    if (httpClass) {
      const envelope = bodyError === undefined ? envelopeSchema.safeParse(body) : undefined;
      const said = envelope?.success ? envelope.data : undefined;
      throw new QfpayError({
        ...httpClass,
        endpoint,
        httpStatus: status,
        ...(said ? { respcd: said.respcd } : {}),
        ...(said?.respmsg === undefined ? {} : { respmsg: said.respmsg }),
        ...(said?.resperr === undefined ? {} : { resperr: said.resperr }),
        ...(status === 429 ? retryAfterMs(retryAfter) : {}),
        message: `QFPay ${endpoint} answered HTTP ${status} (${httpClass.kind} ${httpClass.reason})`,
      });
    }

    if (bodyError !== undefined) {
      throw badResponse(
        endpoint,
        status,
        `QFPay ${endpoint} answered HTTP ${status} with a body that is not JSON`,
        bodyError,
      );
    }
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) {
      throw badResponse(
        endpoint,
        status,
        `QFPay ${endpoint} answered without a valid respcd envelope`,
        envelope.error,
      );
    }
    if (envelope.data.respcd.trim() !== RESPCD_SUCCESS) {
      throw QfpayError.fromRespcd(endpoint, envelope.data, status);
    }
    const data = schema.safeParse(envelope.data.data);
    if (!data.success) {
      throw badResponse(
        endpoint,
        status,
        `QFPay ${endpoint} returned data that does not match its schema`,
        data.error,
      );
    }
    return { data: data.data, envelope: envelope.data, httpStatus: status };
  }
}

/**
 * Walks a paged query until a short page, yielding every item.
 * @param fetchPage fetches one page (1-based); return a {@link Page} (its `pageSize` is what
 *   QFPay says it used) or a bare array
 * @param options.pageSize requested page size @default {@link MAX_PAGE_SIZE}
 * @param options.maxPages stop after this many pages even if the last one was full, as a guard
 *   against a server that ignores `page` @default 1000
 * @example
 * for await (const order of paginate((page, page_size) => client.listBillingOrders({ subscription_id, page, page_size }))) { ... }
 */
export async function* paginate<T>(
  fetchPage: (page: number, pageSize: number) => Promise<Page<T> | T[]>,
  options: { pageSize?: number; maxPages?: number; startPage?: number } = {},
): AsyncGenerator<T, void, undefined> {
  const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
  const maxPages = options.maxPages ?? 1000;
  const startPage = options.startPage ?? 1;
  for (let n = 0; n < maxPages; n++) {
    const result = await fetchPage(startPage + n, pageSize);
    const items = Array.isArray(result) ? result : result.items;
    const served = Array.isArray(result) ? pageSize : result.pageSize;
    yield* items;
    if (items.length === 0 || items.length < served) return;
  }
}

function checkTimeout(ms: number): number {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new TypeError(`QFPay timeout must be a positive number of ms, got ${ms}`);
  return ms;
}

function checkPositiveInt(endpoint: QfpayEndpoint, field: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw validationError(endpoint, `${field} must be a positive integer, got ${String(value)}`);
  }
}

/** A request refused before it was sent. */
function validationError(endpoint: QfpayEndpoint, detail: string): QfpayError {
  return new QfpayError({
    kind: 'permanent',
    reason: 'validation',
    endpoint,
    message: `QFPay ${endpoint} request not sent: ${detail}`,
  });
}

function badResponse(
  endpoint: QfpayEndpoint,
  httpStatus: number,
  message: string,
  cause: unknown,
): QfpayError {
  return new QfpayError({ kind: 'permanent', reason: 'bad_response', endpoint, httpStatus, message, cause });
}

/** Undici hides the useful part (ECONNREFUSED, ...) in `cause`. */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? `${err.message} (${code})` : err.message;
}

function retryAfterMs(header: string | null): { retryAfterMs?: number } {
  if (header === null || header.trim() === '') return {};
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return { retryAfterMs: seconds * 1000 };
  const at = Date.parse(header);
  return Number.isNaN(at) ? {} : { retryAfterMs: Math.max(0, at - Date.now()) };
}

/**
 * QFPay's recurring-payment endpoints as the emulator answers them: signed form requests in,
 * QFPay's envelope `{respcd, respmsg, resperr, data}` out (plus `page`, `page_size` on
 * queries), HTTP 200 for business errors.
 */
import { parseSignType, verifyRequestSignature } from '../signing';
import { formatQfpayIsoTime, formatQfpayNaiveTime, parseQfpayTime } from '../time';
import { MAX_INTERVAL_COUNT, parseIntervalUnit } from '../../../domain/lifecycle/billing-interval';
import { paidCycles, type CustomerInput, type SubscriptionChanges } from './engine';
import { parameterError, QfpayApiError, RESPCD } from './errors';
import {
  TERMINAL_STATES,
  type Customer,
  type Product,
  type ProductLine,
  type Subscription,
  type SubscriptionOrder,
} from './model';
import type { QfpayEmulator } from './emulator';

/** QFPay's answer to every endpoint. */
export interface QfpayEnvelope {
  respcd: string;
  respmsg: string;
  resperr: string;
  data: unknown;
  page?: number;
  page_size?: number;
}

/** The QFPay endpoints the emulator serves, all `POST`. */
export const QFPAY_PATHS = [
  '/customer/v1/create',
  '/customer/v1/update',
  '/customer/v1/query',
  '/customer/v1/delete',
  '/product/v1/create',
  '/product/v1/update',
  '/product/v1/query',
  '/product/v1/delete',
  '/subscription/v1/create',
  '/subscription/v1/update',
  '/subscription/v1/query',
  '/subscription/v1/cancel',
  '/subscription/v1/charge',
  '/subscription/billing_order/v1/list',
] as const;

/** A QFPay endpoint path. */
export type QfpayPath = (typeof QFPAY_PATHS)[number];

/** One received request, as the transport hands it over. */
export interface QfpayRequest {
  path: QfpayPath;
  /** The raw `application/x-www-form-urlencoded` body. */
  body: string;
  headers: { appCode?: string; sign?: string; signType?: string };
}

/** Per-call choices made outside the endpoint (fault injection). */
export interface QfpayCallOptions {
  /** Answer a manual charge `1145` and complete it this many emulator ms later. */
  deferChargeMs?: number;
}

const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 10;

/** Whether a path is one of QFPay's endpoints. */
export function isQfpayPath(path: string): path is QfpayPath {
  return (QFPAY_PATHS as readonly string[]).includes(path);
}

/**
 * Handles one QFPay API call: verifies the signature, validates the parameters, performs the
 * operation, and builds QFPay's envelope. Never throws for a business error.
 */
export function handleQfpayRequest(
  emulator: QfpayEmulator,
  request: QfpayRequest,
  options: QfpayCallOptions = {},
): QfpayEnvelope {
  try {
    const params = parseForm(request.body);
    verifySignature(emulator, params, request.headers);
    return ENDPOINTS[request.path](new Params(params, emulator.timeOffset), emulator, options);
  } catch (error) {
    if (error instanceof QfpayApiError) return failure(error.respcd, error.message);
    throw error;
  }
}

function success(data: unknown, page?: { page: number; pageSize: number }): QfpayEnvelope {
  return {
    respcd: RESPCD.ok,
    respmsg: 'success',
    resperr: 'success',
    data,
    ...(page && { page: page.page, page_size: page.pageSize }),
  };
}

function failure(respcd: string, message: string): QfpayEnvelope {
  return { respcd, respmsg: message, resperr: message, data: null };
}

function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    if (Object.prototype.hasOwnProperty.call(out, key))
      throw parameterError(`parameter ${key} is given twice`);
    // QFPay signs and reads only the parameters that are not empty.
    if (value !== '') out[key] = value;
  }
  return out;
}

function verifySignature(
  emulator: QfpayEmulator,
  params: Record<string, string>,
  headers: QfpayRequest['headers'],
): void {
  if (headers.appCode === undefined || headers.appCode === '') {
    throw new QfpayApiError('signature_error', 'X-QF-APPCODE header is missing');
  }
  if (headers.appCode !== emulator.appCode) throw new QfpayApiError('signature_error', 'unknown app code');
  const signType = parseSignType(headers.signType);
  if (signType === undefined) {
    throw new QfpayApiError('signature_error', `unsupported X-QF-SIGNTYPE "${headers.signType ?? ''}"`);
  }
  if (headers.sign === undefined || headers.sign === '') {
    throw new QfpayApiError('signature_error', 'X-QF-SIGN header is missing');
  }
  if (!verifyRequestSignature(params, emulator.appKey, headers.sign, signType)) {
    throw new QfpayApiError('signature_error', 'signature mismatch');
  }
}

/** Typed access to form parameters; every problem is a `1104`. */
class Params {
  constructor(
    private readonly raw: Record<string, string>,
    private readonly timeOffset: string,
  ) {}

  string(name: string): string | undefined {
    return this.raw[name];
  }

  required(name: string): string {
    const value = this.raw[name];
    if (value === undefined) throw parameterError(`${name} is required`);
    return value;
  }

  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = this.raw[name];
    if (text === undefined) return undefined;
    if (!/^-?\d+$/.test(text.trim())) throw parameterError(`${name} must be an integer`);
    const value = Number(text);
    if (value < min || value > max) throw parameterError(`${name} must be between ${min} and ${max}`);
    return value;
  }

  json(name: string): unknown {
    const text = this.raw[name];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw parameterError(`${name} must be a JSON string`);
    }
  }

  time(name: string): number | undefined {
    const text = this.raw[name];
    if (text === undefined) return undefined;
    const ms = parseQfpayTime(text, this.timeOffset);
    if (ms === undefined) throw parameterError(`${name} must be a time like "2024-05-14 12:32:56"`);
    return ms;
  }

  /** `page`, `page_size`: 1-based, at most 100 per page. */
  page(): { page: number; pageSize: number } {
    return {
      page: this.int('page', 1) ?? 1,
      pageSize: this.int('page_size', 1, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE,
    };
  }

  products(name: string): ProductLine[] | undefined {
    const value = this.json(name);
    if (value === undefined) return undefined;
    const list: unknown[] = Array.isArray(value) ? value : [value];
    if (list.length === 0) throw parameterError(`${name} must list at least one product`);
    return list.map((item) => {
      const line = item as { product_id?: unknown; quantity?: unknown } | null;
      if (
        line === null ||
        typeof line !== 'object' ||
        typeof line.product_id !== 'string' ||
        line.product_id === ''
      ) {
        throw parameterError(`every entry of ${name} needs a product_id`);
      }
      const quantity = line.quantity === undefined || line.quantity === null ? 1 : Number(line.quantity);
      if (!Number.isInteger(quantity) || quantity < 1)
        throw parameterError(`quantity must be a positive integer`);
      return { productId: line.product_id, quantity };
    });
  }

  /** `total_billing_cycles`: a positive integer, or `null`/absent for infinite. */
  totalBillingCycles(): number | null | undefined {
    const text = this.raw['total_billing_cycles'];
    if (text === undefined) return undefined;
    if (text.trim().toLowerCase() === 'null') return null;
    return this.int('total_billing_cycles', 1);
  }
}

function paginate<T>(rows: T[], page: { page: number; pageSize: number }): T[] {
  const start = (page.page - 1) * page.pageSize;
  return rows.slice(start, start + page.pageSize);
}

function customerInput(params: Params): CustomerInput {
  const input: CustomerInput = {};
  const name = params.string('name');
  const phone = params.string('phone');
  const email = params.string('email');
  const billingAddress = params.json('billing_address');
  if (name !== undefined) input.name = name;
  if (phone !== undefined) input.phone = phone;
  if (email !== undefined) input.email = email;
  if (billingAddress !== undefined) input.billingAddress = billingAddress;
  return input;
}

/** A customer as QFPay's customer endpoints show it. */
export function customerRow(customer: Customer): Record<string, unknown> {
  return {
    customer_id: customer.customerId,
    name: customer.name ?? null,
    phone: customer.phone ?? null,
    email: customer.email ?? null,
    billing_address: customer.billingAddress ?? null,
  };
}

/** A product as QFPay's product endpoints show it. */
export function productRow(product: Product): Record<string, unknown> {
  return {
    product_id: product.productId,
    name: product.name,
    type: product.type,
    description: product.description ?? null,
    txamt: product.txamt,
    txcurrcd: product.txcurrcd,
    interval: product.interval ?? null,
    interval_count: product.intervalCount ?? null,
    usage_type: product.usageType,
  };
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : formatQfpayIsoTime(ms);
}

/** A subscription as `/subscription/v1/query` shows it (seed 001's sample, all documented fields). */
export function subscriptionRow(sub: Subscription, userid: number): Record<string, unknown> {
  const paid = paidCycles(sub);
  return {
    subscription_id: sub.subscriptionId,
    customer_id: sub.customerId,
    token_id: sub.tokenId,
    products: sub.products.map((line) => ({ product_id: line.productId, quantity: line.quantity })),
    total_billing_cycles: sub.totalBillingCycles,
    state: sub.state,
    next_billing_time: isoOrNull(sub.nextBillingTime),
    last_billing_time: isoOrNull(sub.lastBillingTime),
    completed_billing_iteration: paid,
    completed_iteration: paid,
    start_time: formatQfpayIsoTime(sub.startTime),
    retry_attempts: sub.retryAttempts,
    last_billing_status: sub.lastBillingStatus,
    is_available: TERMINAL_STATES.has(sub.state) ? 0 : 1,
    userid,
  };
}

/** An order as `/subscription/billing_order/v1/list` shows it: the documented fields plus the payment's. */
export function orderRow(
  subscriptionId: string,
  order: SubscriptionOrder,
  timeOffset: string,
): Record<string, unknown> {
  const last = order.attempts[order.attempts.length - 1];
  return {
    subscription_order_id: order.subscriptionOrderId,
    subscription_id: subscriptionId,
    trigger_by: last?.trigger ?? 'auto',
    sequence_no: order.sequenceNo,
    status: order.status,
    respcd: last?.respcd ?? null,
    respmsg: last?.respmsg ?? null,
    txamt: order.txamt,
    txcurrcd: order.txcurrcd,
    syssn: last?.syssn ?? null,
    txdtm: last ? formatQfpayNaiveTime(last.at, timeOffset) : null,
    charged_at: last ? formatQfpayIsoTime(last.at) : null,
    billing_time: formatQfpayIsoTime(order.billingTime),
    attempts: order.attempts.length,
  };
}

type Endpoint = (params: Params, emulator: QfpayEmulator, options: QfpayCallOptions) => QfpayEnvelope;

const ENDPOINTS: Readonly<Record<QfpayPath, Endpoint>> = {
  '/customer/v1/create': (params, { engine }) =>
    success(customerRow(engine.createCustomer(customerInput(params)))),

  '/customer/v1/update': (params, { engine }) => {
    const customer = engine.updateCustomer(params.required('customer_id'), customerInput(params));
    return success({ ...customerRow(customer), rowAffected: 1 });
  },

  '/customer/v1/query': (params, { engine }) => {
    const page = params.page();
    const filter = { ...customerInput(params), customerId: params.string('customer_id') };
    return success(paginate(engine.queryCustomers(filter), page).map(customerRow), page);
  },

  '/customer/v1/delete': (params, { engine }) => {
    const customerId = params.required('customer_id');
    engine.deleteCustomer(customerId);
    return success({ customer_id: customerId, rowDeleted: 1 });
  },

  '/product/v1/create': (params, { engine }) => {
    const name = params.required('name');
    const type = (params.string('type') ?? 'onetime').toLowerCase();
    if (type !== 'onetime' && type !== 'recurring') throw parameterError('type must be onetime or recurring');
    const txamt = params.int('txamt', 1);
    if (txamt === undefined) throw parameterError('txamt is required');
    const txcurrcd = params.required('txcurrcd').toUpperCase();
    if (!/^[A-Z]{3}$/.test(txcurrcd)) throw parameterError('txcurrcd must be a 3-letter currency code');
    const usageType = (params.string('usage_type') ?? 'licensed').toLowerCase();
    if (usageType !== 'licensed') throw parameterError('usage_type must be licensed');
    const interval = params.string('interval');
    const unit = interval === undefined ? undefined : parseIntervalUnit(interval);
    if (interval !== undefined && unit === undefined) {
      throw parameterError(
        "interval must be monthly or yearly (or, as in QFPay's sandbox, minutes or hours; also daily, weekly)",
      );
    }
    const intervalCount = params.int('interval_count', 1);
    if (type === 'recurring' && (unit === undefined || intervalCount === undefined)) {
      throw parameterError('interval and interval_count are mandatory for a recurring product');
    }
    if (unit !== undefined && intervalCount !== undefined && intervalCount > MAX_INTERVAL_COUNT[unit]) {
      throw parameterError('interval_count must not exceed 1 year');
    }
    const description = params.string('description');
    const product = engine.createProduct({
      name,
      type,
      txamt,
      txcurrcd,
      ...(description !== undefined && { description }),
      ...(interval !== undefined && { interval }),
      ...(intervalCount !== undefined && { intervalCount }),
    });
    return success(productRow(product));
  },

  '/product/v1/update': (params, { engine }) => {
    const changes: { name?: string; description?: string } = {};
    const name = params.string('name');
    const description = params.string('description');
    if (name !== undefined) changes.name = name;
    if (description !== undefined) changes.description = description;
    const product = engine.updateProduct(params.required('product_id'), changes);
    return success({ ...productRow(product), rowAffected: 1 });
  },

  '/product/v1/query': (params, { engine }) => {
    const page = params.page();
    const rows = engine.queryProducts({
      productId: params.string('product_id'),
      name: params.string('name'),
      description: params.string('description'),
      txcurrcd: params.string('txcurrcd'),
      interval: params.string('interval'),
    });
    return success(paginate(rows, page).map(productRow), page);
  },

  '/product/v1/delete': (params, { engine }) => {
    const productId = params.required('product_id');
    engine.deleteProduct(productId);
    return success({ product_id: productId, rowDeleted: 1 });
  },

  '/subscription/v1/create': (params, { engine }) => {
    const customerId = params.required('customer_id');
    const tokenId = params.required('token_id');
    const products = params.products('products');
    if (products === undefined) throw parameterError('products is required');
    const startTime = params.time('start_time');
    const sub = engine.createSubscription({
      customerId,
      tokenId,
      products,
      totalBillingCycles: params.totalBillingCycles() ?? null,
      ...(startTime !== undefined && { startTime }),
    });
    const row = subscriptionRow(sub, engine.userid);
    return success({
      subscription_id: sub.subscriptionId,
      state: sub.state,
      customer_id: row.customer_id,
      token_id: row.token_id,
      products: row.products,
      total_billing_cycles: row.total_billing_cycles,
      start_time: row.start_time,
      next_billing_time: row.next_billing_time,
    });
  },

  '/subscription/v1/update': (params, { engine }) => {
    const subscriptionId = params.required('subscription_id');
    const changes: SubscriptionChanges = {};
    const tokenId = params.string('token_id');
    const products = params.products('products');
    const total = params.totalBillingCycles();
    const startTime = params.time('start_time');
    if (tokenId !== undefined) changes.tokenId = tokenId;
    if (products !== undefined) changes.products = products;
    if (total !== undefined) changes.totalBillingCycles = total;
    if (startTime !== undefined) changes.startTime = startTime;
    const sub = engine.updateSubscription(subscriptionId, changes);
    return success({ ...subscriptionRow(sub, engine.userid), rowAffected: 1 });
  },

  '/subscription/v1/query': (params, { engine }) => {
    const page = params.page();
    const state = params.string('state');
    const rows = engine.querySubscriptions({
      // The seed spells the parameter `subscritpion_id`; both spellings work.
      subscriptionId: params.string('subscription_id') ?? params.string('subscritpion_id'),
      customerId: params.string('customer_id'),
      tokenId: params.string('token_id'),
      state,
    });
    return success(
      paginate(rows, page).map((sub) => subscriptionRow(sub, engine.userid)),
      page,
    );
  },

  '/subscription/v1/cancel': (params, { engine }) => {
    const sub = engine.cancelSubscription(params.required('subscription_id'));
    return success({ subscription_id: sub.subscriptionId, state: sub.state });
  },

  '/subscription/v1/charge': (params, { engine, timeOffset }, options) => {
    const result = engine.chargeSubscription(
      params.required('subscription_id'),
      params.string('subscription_order_id'),
      options.deferChargeMs,
    );
    const { subscription: sub, order, attempt } = result;
    if (result.pending || attempt === undefined) {
      const message = 'processing, please query the result later';
      return {
        respcd: RESPCD.processing,
        respmsg: message,
        resperr: message,
        data: {
          subscription_id: sub.subscriptionId,
          subscription_order_id: order.subscriptionOrderId,
          sequence_no: order.sequenceNo,
          respcd: RESPCD.processing,
          respmsg: message,
          state: sub.state,
        },
      };
    }
    // The envelope carries the payment's own respcd, so a declined charge is not mistaken for a paid one.
    return {
      respcd: attempt.respcd,
      respmsg: attempt.respmsg,
      resperr: attempt.respmsg,
      data: {
        subscription_id: sub.subscriptionId,
        subscription_order_id: order.subscriptionOrderId,
        sequence_no: order.sequenceNo,
        respcd: attempt.respcd,
        respmsg: attempt.respmsg,
        syssn: attempt.syssn,
        txamt: attempt.txamt,
        txcurrcd: attempt.txcurrcd,
        txdtm: formatQfpayNaiveTime(attempt.at, timeOffset),
        state: sub.state,
        next_billing_time: isoOrNull(sub.nextBillingTime),
      },
    };
  },

  '/subscription/billing_order/v1/list': (params, { engine, timeOffset }) => {
    const subscriptionId = params.required('subscription_id');
    const page = params.page();
    const rows = paginate(engine.listOrders(subscriptionId), page).map((order) =>
      orderRow(subscriptionId, order, timeOffset),
    );
    return success(rows, page);
  },
};

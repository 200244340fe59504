/**
 * Customers: created at QFPay directly, or once per `Idempotency-Key` through a creation workflow
 * (so a retry after a timeout never makes a second customer); and the payment tokens the engine
 * learned for a customer from `payment_token` notifications.
 */
import { Router } from 'express';
import type { Customer } from '../../gateways/qfpay/schemas';
import type { PaymentTokenRecord } from '../../workflows/definitions';
import { WORKFLOW_TYPES, customerTokensWorkflowId, tokensQuery } from '../../workflows/definitions';
import { withinDeadline, type ApiContext } from '../context';
import { isWorkflowNotFound } from '../errors';
import { idempotencyKeyOf, idempotentResult, markReplayed } from '../idempotency';
import { cursorOffset, listScope, pageFrom, qfpayPageOf } from '../paging';
import {
  CreateCustomerBodySchema,
  CustomerParamsSchema,
  ListCustomersQuerySchema,
  ListQuerySchema,
  UpdateCustomerBodySchema,
  type CustomerListResponse,
  type CustomerResponse,
  type PaymentTokenListResponse,
  type PaymentTokenResponse,
} from '../schemas';
import { parseInput } from '../validate';
import { metadataRecords } from '../metadata';
import type { Metadata } from '../../domain/metadata/metadata';
import { deletedView, foundById } from './qfpay-records';
import { handle } from '../route';
import { creationClock } from './test-clocks';

/** A token record as the API shows it. */
export function paymentTokenView(record: PaymentTokenRecord): PaymentTokenResponse {
  return {
    token_id: record.tokenId,
    customer_id: record.customerId,
    event: record.event,
    card_masked: record.cardMasked ?? null,
    card_scheme: record.cardScheme ?? null,
    expiry: record.expiry ?? null,
    received_at: new Date(record.receivedAt).toISOString(),
    at: new Date(record.at).toISOString(),
  };
}

/**
 * A customer as the API shows it: QFPay's fields (`fallback` for those its answer left out), and
 * the engine's metadata of it.
 */
export function customerView(
  customer: Customer,
  metadata: Metadata,
  fallback: Partial<Omit<CustomerResponse, 'metadata'>> = {},
): CustomerResponse {
  return {
    customer_id: customer.customer_id,
    name: customer.name ?? fallback.name,
    email: customer.email ?? fallback.email,
    phone: customer.phone ?? fallback.phone,
    billing_address: customer.billing_address ?? fallback.billing_address,
    metadata,
  };
}

/** `/v1/customers` routes (mounted on the authenticated router). */
export function customerRouter(ctx: ApiContext): Router {
  const router = Router();
  const records = metadataRecords(ctx);

  /** The metadata a creation was given, set on the new customer (a retry sets the same again). */
  function createdMetadata(customerId: string, metadata: Metadata | undefined): Promise<Metadata> {
    // A new customer has none; a retry of a creation with metadata sets the same again.
    return metadata === undefined ? Promise.resolve({}) : records.change('customer', customerId, metadata);
  }

  handle(router, 'createCustomer', async (req, res) => {
    const idempotencyKey = idempotencyKeyOf(req, false);
    const {
      metadata,
      test_clock: testClock,
      ...body
    } = parseInput(CreateCustomerBodySchema, req.body, 'body');
    const onClock = await creationClock(ctx, testClock);
    if (idempotencyKey !== undefined) {
      const { value, replayed } = await idempotentResult<{ customerId: string }>(ctx, req, {
        kind: 'customer',
        idempotencyKey,
        body: {
          ...body,
          ...(metadata === undefined ? {} : { metadata }),
          ...(testClock ? { test_clock: testClock } : {}),
        },
        workflowType: WORKFLOW_TYPES.createCustomer,
        args: [
          {
            name: body.name,
            email: body.email,
            phone: body.phone,
            billingAddress: body.billing_address,
            ...onClock,
          },
        ],
      });
      const view: CustomerResponse = {
        customer_id: value.customerId,
        ...body,
        metadata: await createdMetadata(value.customerId, metadata),
      };
      markReplayed(res, replayed)
        .status(replayed ? 200 : 201)
        .json(view);
      return;
    }
    const customer = await ctx.qfpay.createCustomer(
      { name: body.name, email: body.email, phone: body.phone, billing_address: body.billing_address },
      onClock,
    );
    res.status(201).json(customerView(customer, await createdMetadata(customer.customer_id, metadata), body));
  });

  handle(router, 'listCustomers', async (req, res) => {
    const query = parseInput(ListCustomersQuerySchema, req.query, 'query');
    const { name, email, phone } = query;
    const page = await qfpayPageOf(
      ctx,
      (at, pageSize) => ctx.qfpay.queryCustomers({ name, email, phone, page: at, page_size: pageSize }),
      query,
      listScope('customers', query),
    );
    const metadata = await records.readAll(
      'customer',
      page.data.map((c) => c.customer_id),
    );
    const view: CustomerListResponse = {
      data: page.data.map((c) => customerView(c, metadata.get(c.customer_id) ?? {})),
      next_cursor: page.next_cursor,
    };
    res.json(view);
  });

  /**
   * The customer as QFPay has it.
   * @throws ApiError 404 when QFPay has none
   */
  function customerAtQfpay(customerId: string): Promise<Customer> {
    const query = ctx.qfpay.queryCustomers({ customer_id: customerId, page: 1, page_size: 1 });
    return foundById(query, (c) => c.customer_id, customerId, 'customer');
  }

  handle(router, 'getCustomer', async (req, res) => {
    const { customerId } = parseInput(CustomerParamsSchema, req.params, 'path');
    // QFPay first: a customer it does not have is a 404, whatever the engine holds.
    const customer = await customerAtQfpay(customerId);
    res.json(customerView(customer, await records.read('customer', customerId)));
  });

  handle(router, 'updateCustomer', async (req, res) => {
    const { customerId } = parseInput(CustomerParamsSchema, req.params, 'path');
    const { metadata: change, ...body } = parseInput(UpdateCustomerBodySchema, req.body, 'body');
    // Only metadata to change: QFPay has nothing to update, but the customer must be QFPay's.
    const customer =
      Object.keys(body).length === 0
        ? await customerAtQfpay(customerId)
        : await ctx.qfpay.updateCustomer({
            customer_id: customerId,
            name: body.name,
            email: body.email,
            phone: body.phone,
            billing_address: body.billing_address,
          });
    const metadata =
      change === undefined
        ? await records.read('customer', customerId)
        : await records.change('customer', customerId, change);
    res.json(customerView(customer, metadata, body));
  });

  handle(router, 'deleteCustomer', async (req, res) => {
    const { customerId } = parseInput(CustomerParamsSchema, req.params, 'path');
    await ctx.qfpay.deleteCustomer({ customer_id: customerId });
    await records.forget('customer', customerId);
    res.json(deletedView(customerId));
  });

  handle(router, 'listCustomerTokens', async (req, res) => {
    const { customerId } = parseInput(CustomerParamsSchema, req.params, 'path');
    const query = parseInput(ListQuerySchema, req.query, 'query');
    const scope = listScope(`customers/${customerId}/tokens`, query);
    const from = cursorOffset(ctx, query.cursor, scope);
    // A customer QFPay does not have is a 404 here too, not an empty list.
    await customerAtQfpay(customerId);
    let tokens: PaymentTokenRecord[] = [];
    try {
      tokens = await withinDeadline(ctx.temporal, ctx.timeouts.temporalMs, () =>
        ctx.temporal.workflow.getHandle(customerTokensWorkflowId(customerId)).query(tokensQuery),
      );
    } catch (err) {
      // No token notification yet for this customer: no workflow, no tokens.
      if (!isWorkflowNotFound(err)) throw err;
    }
    const view: PaymentTokenListResponse = pageFrom(
      ctx,
      tokens.map(paymentTokenView),
      from,
      query.limit,
      scope,
    );
    res.json(view);
  });

  return router;
}

/**
 * Customers: created at QFPay directly, or once per `Idempotency-Key` through a creation workflow
 * (so a retry after a timeout never makes a second customer); and the payment tokens the engine
 * learned for a customer from `payment_token` notifications.
 */
import { Router } from 'express';
import type { PaymentTokenRecord } from '../../workflows/definitions';
import { WORKFLOW_TYPES, customerTokensWorkflowId, tokensQuery } from '../../workflows/definitions';
import { withinDeadline, type ApiContext } from '../context';
import { isWorkflowNotFound } from '../errors';
import { idempotencyKeyOf, idempotentResult, markReplayed } from '../idempotency';
import {
  CreateCustomerBodySchema,
  CustomerParamsSchema,
  type CustomerResponse,
  type PaymentTokenListResponse,
  type PaymentTokenResponse,
} from '../schemas';
import { parseInput } from '../validate';

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

/** `/v1/customers` routes (mounted on the authenticated router). */
export function customerRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/customers', async (req, res) => {
    const idempotencyKey = idempotencyKeyOf(req, false);
    const body = parseInput(CreateCustomerBodySchema, req.body, 'body');
    if (idempotencyKey !== undefined) {
      const { value, replayed } = await idempotentResult<{ customerId: string }>(ctx, req, {
        kind: 'customer',
        idempotencyKey,
        body,
        workflowType: WORKFLOW_TYPES.createCustomer,
        args: [
          { name: body.name, email: body.email, phone: body.phone, billingAddress: body.billing_address },
        ],
      });
      const view: CustomerResponse = { customer_id: value.customerId, ...body };
      markReplayed(res, replayed)
        .status(replayed ? 200 : 201)
        .json(view);
      return;
    }
    const customer = await ctx.qfpay.createCustomer({
      name: body.name,
      email: body.email,
      phone: body.phone,
      billing_address: body.billing_address,
    });
    const view: CustomerResponse = {
      customer_id: customer.customer_id,
      name: customer.name ?? body.name,
      email: customer.email ?? body.email,
      phone: customer.phone ?? body.phone,
      billing_address: customer.billing_address ?? body.billing_address,
    };
    res.status(201).json(view);
  });

  router.get('/customers/:customerId/tokens', async (req, res) => {
    const { customerId } = parseInput(CustomerParamsSchema, req.params, 'path');
    let tokens: PaymentTokenRecord[] = [];
    try {
      tokens = await withinDeadline(ctx.temporal, ctx.timeouts.temporalMs, () =>
        ctx.temporal.workflow.getHandle(customerTokensWorkflowId(customerId)).query(tokensQuery),
      );
    } catch (err) {
      // No token notification yet for this customer: no workflow, no tokens.
      if (!isWorkflowNotFound(err)) throw err;
    }
    const view: PaymentTokenListResponse = { customer_id: customerId, tokens: tokens.map(paymentTokenView) };
    res.json(view);
  });

  return router;
}

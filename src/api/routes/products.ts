/**
 * Products: created at QFPay directly, or once per `Idempotency-Key` through a creation workflow
 * (so a retry after a timeout never makes a second product).
 */
import { Router } from 'express';
import { WORKFLOW_TYPES } from '../../workflows/definitions';
import type { ApiContext } from '../context';
import { idempotencyKeyOf, idempotentResult, markReplayed } from '../idempotency';
import { CreateProductBodySchema, type ProductResponse } from '../schemas';
import { parseInput } from '../validate';

/** `/v1/products` routes (mounted on the authenticated router). */
export function productRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/products', async (req, res) => {
    const idempotencyKey = idempotencyKeyOf(req, false);
    const body = parseInput(CreateProductBodySchema, req.body, 'body');
    if (idempotencyKey !== undefined) {
      const { value, replayed } = await idempotentResult<{ productId: string }>(ctx, req, {
        kind: 'product',
        idempotencyKey,
        body,
        workflowType: WORKFLOW_TYPES.createProduct,
        args: [
          {
            name: body.name,
            description: body.description,
            amount: body.amount,
            currency: body.currency,
            interval: body.interval,
            intervalCount: body.interval_count,
          },
        ],
      });
      const view: ProductResponse = { product_id: value.productId, ...body };
      markReplayed(res, replayed)
        .status(replayed ? 200 : 201)
        .json(view);
      return;
    }
    const product = await ctx.qfpay.createProduct({
      name: body.name,
      description: body.description,
      type: 'recurring',
      txamt: body.amount,
      txcurrcd: body.currency,
      interval: body.interval,
      interval_count: body.interval_count,
    });
    const view: ProductResponse = {
      product_id: product.product_id,
      name: product.name ?? body.name,
      description: product.description ?? body.description,
      amount: product.txamt ?? body.amount,
      currency: product.txcurrcd ?? body.currency,
      interval: product.interval ?? body.interval,
      interval_count: product.interval_count ?? body.interval_count,
    };
    res.status(201).json(view);
  });

  return router;
}

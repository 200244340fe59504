/** Products: created at QFPay directly (plain CRUD, nothing to make durable). */
import { Router } from 'express';
import type { ApiContext } from '../context';
import { CreateProductBodySchema, type ProductResponse } from '../schemas';
import { parseInput } from '../validate';

/** `/v1/products` routes (mounted on the authenticated router). */
export function productRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/products', async (req, res) => {
    const body = parseInput(CreateProductBodySchema, req.body, 'body');
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

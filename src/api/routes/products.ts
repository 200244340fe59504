/**
 * Products: created at QFPay directly, or once per `Idempotency-Key` through a creation workflow
 * (so a retry after a timeout never makes a second product).
 */
import { Router } from 'express';
import { isQfpayError } from '../../gateways/qfpay/errors';
import type { ProductCreateResult } from '../../gateways/qfpay/schemas';
import { WORKFLOW_TYPES } from '../../workflows/definitions';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { idempotencyKeyOf, idempotentResult, markReplayed } from '../idempotency';
import {
  CreateProductBodySchema,
  ListProductsQuerySchema,
  ProductParamsSchema,
  UpdateProductBodySchema,
  type ProductListResponse,
  type ProductResponse,
} from '../schemas';
import { deletedView, foundById } from './qfpay-records';
import { listScope, qfpayPageOf } from '../paging';
import { parseInput } from '../validate';
import { handle } from '../route';

/** A product as the API shows it (QFPay's fields, `fallback` for those its answer left out). */
export function productView(
  product: ProductCreateResult,
  fallback: Partial<ProductResponse> = {},
): ProductResponse {
  return {
    product_id: product.product_id,
    name: product.name ?? fallback.name,
    description: product.description ?? fallback.description,
    amount: product.txamt ?? fallback.amount,
    currency: product.txcurrcd ?? fallback.currency,
    interval: product.interval ?? fallback.interval,
    interval_count: product.interval_count ?? fallback.interval_count,
  };
}

/** `/v1/products` routes (mounted on the authenticated router). */
export function productRouter(ctx: ApiContext): Router {
  const router = Router();

  handle(router, 'createProduct', async (req, res) => {
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
    res.status(201).json(productView(product, body));
  });

  handle(router, 'listProducts', async (req, res) => {
    const query = parseInput(ListProductsQuerySchema, req.query, 'query');
    const page = await qfpayPageOf(
      ctx,
      (at, pageSize) =>
        ctx.qfpay.queryProducts({
          page: at,
          page_size: pageSize,
          name: query.name,
          txcurrcd: query.currency,
          interval: query.interval,
        }),
      query,
      listScope('products', query),
    );
    const view: ProductListResponse = {
      data: page.data.map((p) => productView(p)),
      next_cursor: page.next_cursor,
    };
    res.json(view);
  });

  handle(router, 'getProduct', async (req, res) => {
    const { productId } = parseInput(ProductParamsSchema, req.params, 'path');
    const query = ctx.qfpay.queryProducts({ product_id: productId, page: 1, page_size: 1 });
    res.json(productView(await foundById(query, (p) => p.product_id, productId, 'product')));
  });

  handle(router, 'updateProduct', async (req, res) => {
    const { productId } = parseInput(ProductParamsSchema, req.params, 'path');
    const body = parseInput(UpdateProductBodySchema, req.body, 'body');
    const product = await ctx.qfpay.updateProduct({ product_id: productId, ...body });
    res.json(productView(product, body));
  });

  handle(router, 'deleteProduct', async (req, res) => {
    const { productId } = parseInput(ProductParamsSchema, req.params, 'path');
    try {
      await ctx.qfpay.deleteProduct({ product_id: productId });
    } catch (err) {
      // QFPay refuses to delete a product a subscription still bills: a conflict with its state.
      if (isQfpayError(err) && err.reason === 'validation') {
        throw ApiError.conflict(
          `QFPay refused to delete product ${productId}: ${err.respmsg ?? err.message}`,
          err,
        );
      }
      throw err;
    }
    res.json(deletedView(productId));
  });

  return router;
}

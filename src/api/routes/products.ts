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
import { metadataRecords } from '../metadata';
import type { Metadata } from '../../domain/metadata/metadata';
import { handle } from '../route';
import { creationClock } from './test-clocks';

/** A product as the API shows it (QFPay's fields, `fallback` for those its answer left out). */
export function productView(
  product: ProductCreateResult,
  metadata: Metadata,
  fallback: Partial<Omit<ProductResponse, 'metadata'>> = {},
): ProductResponse {
  return {
    product_id: product.product_id,
    name: product.name ?? fallback.name,
    description: product.description ?? fallback.description,
    amount: product.txamt ?? fallback.amount,
    currency: product.txcurrcd ?? fallback.currency,
    interval: product.interval ?? fallback.interval,
    interval_count: product.interval_count ?? fallback.interval_count,
    metadata,
  };
}

/** `/v1/products` routes (mounted on the authenticated router). */
export function productRouter(ctx: ApiContext): Router {
  const router = Router();
  const records = metadataRecords(ctx);

  /** The metadata a creation was given, set on the new product (a retry sets the same again). */
  function createdMetadata(productId: string, metadata: Metadata | undefined): Promise<Metadata> {
    // A new product has none; a retry of a creation with metadata sets the same again.
    return metadata === undefined ? Promise.resolve({}) : records.change('product', productId, metadata);
  }

  /** The product as QFPay has it; 404 when it has none. */
  function productAtQfpay(productId: string): Promise<ProductCreateResult> {
    const query = ctx.qfpay.queryProducts({ product_id: productId, page: 1, page_size: 1 });
    return foundById(query, (p) => p.product_id, productId, 'product');
  }

  handle(router, 'createProduct', async (req, res) => {
    const idempotencyKey = idempotencyKeyOf(req, false);
    const {
      metadata,
      test_clock: testClock,
      ...body
    } = parseInput(CreateProductBodySchema, req.body, 'body');
    const onClock = await creationClock(ctx, testClock);
    if (idempotencyKey !== undefined) {
      const { value, replayed } = await idempotentResult<{ productId: string }>(ctx, req, {
        kind: 'product',
        idempotencyKey,
        body: {
          ...body,
          ...(metadata === undefined ? {} : { metadata }),
          ...(testClock ? { test_clock: testClock } : {}),
        },
        workflowType: WORKFLOW_TYPES.createProduct,
        args: [
          {
            name: body.name,
            description: body.description,
            amount: body.amount,
            currency: body.currency,
            interval: body.interval,
            intervalCount: body.interval_count,
            ...onClock,
          },
        ],
      });
      const view: ProductResponse = {
        product_id: value.productId,
        ...body,
        metadata: await createdMetadata(value.productId, metadata),
      };
      markReplayed(res, replayed)
        .status(replayed ? 200 : 201)
        .json(view);
      return;
    }
    const product = await ctx.qfpay.createProduct(
      {
        name: body.name,
        description: body.description,
        type: 'recurring',
        txamt: body.amount,
        txcurrcd: body.currency,
        interval: body.interval,
        interval_count: body.interval_count,
      },
      onClock,
    );
    res.status(201).json(productView(product, await createdMetadata(product.product_id, metadata), body));
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
    const metadata = await records.readAll(
      'product',
      page.data.map((p) => p.product_id),
    );
    const view: ProductListResponse = {
      data: page.data.map((p) => productView(p, metadata.get(p.product_id) ?? {})),
      next_cursor: page.next_cursor,
    };
    res.json(view);
  });

  handle(router, 'getProduct', async (req, res) => {
    const { productId } = parseInput(ProductParamsSchema, req.params, 'path');
    // QFPay first: a product it does not have is a 404, whatever the engine holds.
    const product = await productAtQfpay(productId);
    res.json(productView(product, await records.read('product', productId)));
  });

  handle(router, 'updateProduct', async (req, res) => {
    const { productId } = parseInput(ProductParamsSchema, req.params, 'path');
    const { metadata: change, ...body } = parseInput(UpdateProductBodySchema, req.body, 'body');
    // Only metadata to change: QFPay has nothing to update, but the product must be QFPay's.
    const product =
      Object.keys(body).length === 0
        ? await productAtQfpay(productId)
        : await ctx.qfpay.updateProduct({ product_id: productId, ...body });
    const metadata =
      change === undefined
        ? await records.read('product', productId)
        : await records.change('product', productId, change);
    res.json(productView(product, metadata, body));
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
    await records.forget('product', productId);
    res.json(deletedView(productId));
  });

  return router;
}

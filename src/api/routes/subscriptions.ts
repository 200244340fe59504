/**
 * `/v1/subscriptions`: durable, idempotent creation (a creation workflow keyed by the merchant's
 * `Idempotency-Key`), the lifecycle view (a query), the list (Temporal visibility on the engine's
 * search attributes), and the merchant's changes (workflow updates, whose validators answer 409).
 */
import { quoteQueryValue } from '../../temporal/visibility-query';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { Router, type Request, type Response } from 'express';
import type { TypedSearchAttributes } from '@temporalio/common';
import {
  LEGACY_SEARCH_ATTRIBUTES,
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  cancelUpdate,
  scheduleCancelUpdate,
  unscheduleCancelUpdate,
  changeDunningPolicyUpdate,
  changePaymentTokenUpdate,
  changeProductsUpdate,
  changePriceUpdate,
  changeTotalBillingCyclesUpdate,
  chargeNowUpdate,
  pauseBillingUpdate,
  paymentsQuery,
  resumeBillingUpdate,
  setMetadataUpdate,
  snapshotQuery,
  subscriptionIdOfWorkflow,
  subscriptionWorkflowId,
  syncNowUpdate,
  type CreateSubscriptionInput,
  type CreateSubscriptionResult,
  type DunningPolicy,
  type PaymentAttemptRecord,
  type SubscriptionView,
  type SubscriptionWorkflowOptions,
  type HoldScope,
} from '../../workflows/definitions';
import { mergePolicy } from '../../domain/episode/dunning';
import { withinDeadline, workflowOptions, type ApiContext } from '../context';
import { ApiError, isWorkflowNotFound, toApiError, updateApiError } from '../errors';
import { creationHandle, idempotencyKeyOf, resultWithin, startIdempotentCreation } from '../idempotency';
import {
  CancelBodySchema,
  ChangePaymentTokenBodySchema,
  ChangeProductsBodySchema,
  ChangePriceBodySchema,
  ChangeTotalBillingCyclesBodySchema,
  ChargeBodySchema,
  CreateSubscriptionBodySchema,
  CreationParamsSchema,
  DunningPolicyOverrideBodySchema,
  EmptyBodySchema,
  LifecycleStateSchema,
  ListQuerySchema,
  ListSubscriptionsQuerySchema,
  HoldBodySchema,
  PauseBodySchema,
  ScheduleQuerySchema,
  SetMetadataBodySchema,
  SubscriptionParamsSchema,
  type ChangeProductsBody,
  type CreateSubscriptionBody,
  type CreationResponse,
  type ListSubscriptionsQuery,
  type OrderListResponse,
  type SubscriptionListResponse,
} from '../schemas';
import { parseInput } from '../validate';
import { cursorOffset, cursorPosition, listScope, pageFrom } from '../paging';
import {
  qfpayProducts as findQfpayProducts,
  qfpaySubscription as findQfpaySubscription,
} from '../../gateways/qfpay/plan';
import { splitSubscriptionId } from '../../domain/gateway-profile';
import { gatewayProfile } from '../../gateways/registry';
import { subscriptionGateway } from './gateway-modules';
import { gatewaySchedule, listedFromSync, ordersView } from '../billing-views';
import { chargeResultView, creationResultView, subscriptionView } from '../views';
import { handle } from '../route';
import { testClockOf } from './test-clocks';
import { heldMetadata, memoMetadata, metadataChange } from '../metadata';
import { metadataChangeProblem, type HeldMetadata } from '../../domain/metadata/metadata';
import { decodeMapFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { OperationId } from '../openapi';

// ---- creation ---------------------------------------------------------------------------------

/** Where the status of a creation still running can be read. */
export function creationLocation(idempotencyKey: string): string {
  return `/v1/subscriptions/creations/${encodeURIComponent(idempotencyKey)}`;
}

/** The body's override (already checked by its schema, field by field) on the base policy. */
export function policyWithOverride(
  base: DunningPolicy,
  override: CreateSubscriptionBody['dunning_policy'],
): DunningPolicy {
  return override === undefined ? base : mergePolicy(base, override);
}

/** The existing customer (the schema refuses an inline one: it could own no token yet). */
function customerOf(body: CreateSubscriptionBody): CreateSubscriptionInput['customer'] {
  if (body.customer_id !== undefined) return { customerId: body.customer_id };
  throw ApiError.validation('invalid body', [{ path: 'customer_id', message: 'give customer_id' }]);
}

function productOf(body: CreateSubscriptionBody): CreateSubscriptionInput['product'] {
  if (body.product_id !== undefined) return { productId: body.product_id };
  if (body.product !== undefined) {
    const { name, description, amount, currency, interval, interval_count: intervalCount } = body.product;
    return { create: { name, description, amount, currency, interval, intervalCount } };
  }
  throw ApiError.validation('invalid body', [{ path: 'product_id', message: 'give product_id or product' }]);
}

/** The creation workflow's input from a validated request. */
export function creationInput(
  body: CreateSubscriptionBody,
  policy: DunningPolicy,
  options: SubscriptionWorkflowOptions,
  metadata?: HeldMetadata,
): CreateSubscriptionInput {
  return {
    ...(metadata === undefined ? {} : { metadata }),
    customer: customerOf(body),
    product: productOf(body),
    tokenId: body.token_id,
    ...(body.quantity === undefined ? {} : { quantity: body.quantity }),
    ...(body.total_billing_cycles === undefined ? {} : { totalBillingCycles: body.total_billing_cycles }),
    ...(body.start_time === undefined ? {} : { startTime: Date.parse(body.start_time) }),
    policy,
    options,
  };
}

// ---- list -------------------------------------------------------------------------------------

/** `RUNNING` in Temporal's `WorkflowExecutionStatus` enum. */
const WORKFLOW_STATUS_RUNNING = 1;

export { quoteQueryValue };

/** A search attribute that runs recorded before the gateway-neutral names carry under another name. */
export type RenamedAttribute = keyof typeof LEGACY_SEARCH_ATTRIBUTES;

/**
 * A visibility clause for a renamed search attribute: its value under the gateway-neutral name or
 * the name before, so that runs recorded before the rename are found too.
 */
export function renamedAttributeEquals(attribute: RenamedAttribute, value: string): string {
  const quoted = quoteQueryValue(value);
  return `(${SEARCH_ATTRIBUTES[attribute].name} = ${quoted} OR ${LEGACY_SEARCH_ATTRIBUTES[attribute].name} = ${quoted})`;
}

/** A renamed search attribute's value, under the name before for a run recorded before the rename. */
export function renamedAttribute(
  attributes: TypedSearchAttributes,
  attribute: RenamedAttribute,
): string | undefined {
  return attributes.get(SEARCH_ATTRIBUTES[attribute]) ?? attributes.get(LEGACY_SEARCH_ATTRIBUTES[attribute]);
}

/** The visibility query for a subscription list: the engine's workflow type and search attributes. */
export function listQuery(
  filters: Pick<ListSubscriptionsQuery, 'state' | 'customer_id' | 'test_clock'>,
  metadataDigest?: string,
): string {
  const clauses = [
    `WorkflowType = ${quoteQueryValue(WORKFLOW_TYPES.subscription)}`,
    // Visibility lists every run of a workflow: a run that continued as new is the same
    // subscription as the run after it, and is listed once, as that run.
    `ExecutionStatus != 'ContinuedAsNew'`,
  ];
  // A keyword list equals a value when it holds it.
  if (metadataDigest !== undefined)
    clauses.push(`${SEARCH_ATTRIBUTES.metadataDigests.name} = ${quoteQueryValue(metadataDigest)}`);
  if (filters.state !== undefined)
    clauses.push(`${SEARCH_ATTRIBUTES.state.name} = ${quoteQueryValue(filters.state)}`);
  if (filters.customer_id !== undefined) {
    clauses.push(renamedAttributeEquals('customerId', filters.customer_id));
  }
  if (filters.test_clock !== undefined)
    clauses.push(`${SEARCH_ATTRIBUTES.testClock.name} = ${quoteQueryValue(filters.test_clock)}`);
  return clauses.join(' AND ');
}

/**
 * Waits a while for a subscription's creation and answers: 201 (or 200 for a retry of a finished
 * one) with the result, or 202 with its `Location` while it runs. A failed creation
 * (WorkflowFailedError) is mapped by the error handler like any other error.
 */
export async function answerCreation(
  ctx: ApiContext,
  res: Response,
  creation: { handle: WorkflowHandle; replayed: boolean; idempotencyKey: string },
): Promise<void> {
  const { handle, replayed, idempotencyKey } = creation;
  const outcome = await resultWithin<CreateSubscriptionResult>(
    ctx.temporal,
    handle,
    ctx.timeouts.creationWaitMs,
  );
  if (outcome === undefined) {
    const running: CreationResponse = {
      idempotency_key: idempotencyKey,
      status: 'running',
      replayed,
      result: null,
      error: null,
    };
    res.status(202).location(creationLocation(idempotencyKey)).json(running);
    return;
  }
  const done: CreationResponse = {
    idempotency_key: idempotencyKey,
    status: 'completed',
    replayed,
    result: creationResultView(outcome.value),
    error: null,
  };
  res.status(replayed ? 200 : 201).json(done);
}

// ---- router -----------------------------------------------------------------------------------

/** What every subscription route needs of the subscription's workflow and of QFPay. */
function subscriptionWorkflows(ctx: ApiContext) {
  const { temporal, timeouts } = ctx;

  function subscriptionHandle(subscriptionId: string) {
    return temporal.workflow.getHandle(subscriptionWorkflowId(subscriptionId));
  }

  /**
   * Why an update found no workflow to run in: 404 when the subscription's workflow never existed,
   * 409 when it has ended (a terminal state), naming the final state when a worker can still say.
   */
  async function notFoundOrEnded(subscriptionId: string, cause: unknown): Promise<ApiError> {
    const handle = subscriptionHandle(subscriptionId);
    let status: string;
    try {
      status = (await withinDeadline(temporal, timeouts.temporalMs, () => handle.describe())).status.name;
    } catch (err) {
      if (isWorkflowNotFound(err))
        return ApiError.notFound(`subscription ${subscriptionId} not found`, cause);
      throw err;
    }
    let state: string | undefined;
    try {
      const view = await withinDeadline(temporal, timeouts.temporalMs, () => handle.query(snapshotQuery));
      state = view.snapshot.state;
    } catch {
      // Without a worker to answer the query, the workflow's status has to do.
    }
    return ApiError.conflict(
      `subscription ${subscriptionId} has ended${state ? ` (${state})` : ''}: its lifecycle workflow is ` +
        `${status.toLowerCase()} and takes no more changes`,
      cause,
    );
  }

  /** Runs one workflow update and maps its refusal: validator → 409, QFPay → mapped, absent → 404. */
  async function runUpdate<R>(
    subscriptionId: string,
    call: (handle: WorkflowHandle) => Promise<R>,
  ): Promise<R> {
    try {
      return await withinDeadline(temporal, timeouts.updateMs, () =>
        call(subscriptionHandle(subscriptionId)),
      );
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw updateApiError(err);
      if (isWorkflowNotFound(err)) throw await notFoundOrEnded(subscriptionId, err);
      throw err;
    }
  }

  function subscriptionId(req: Request): string {
    return parseInput(SubscriptionParamsSchema, req.params, 'path').subscriptionId;
  }

  /** A query of the subscription's workflow; 404 when the engine has none for it. */
  async function queryWorkflow<R>(id: string, call: (handle: WorkflowHandle) => Promise<R>): Promise<R> {
    try {
      return await withinDeadline(temporal, timeouts.temporalMs, () => call(subscriptionHandle(id)));
    } catch (err) {
      if (isWorkflowNotFound(err)) throw ApiError.notFound(`subscription ${id} not found`, err);
      throw err;
    }
  }

  /**
   * Runs an update, then reads the subscription's whole view with a query: updates return only
   * what changed (small history), while the merchant gets the full picture.
   */
  async function updateThenView(
    id: string,
    call: (handle: WorkflowHandle) => Promise<unknown>,
  ): Promise<SubscriptionView> {
    await runUpdate(id, call);
    return withinDeadline(temporal, timeouts.temporalMs, () => subscriptionHandle(id).query(snapshotQuery));
  }

  // QFPay's subscription and products, for the currency check of a product change.
  const qfpaySubscription = (id: string) => findQfpaySubscription(ctx.qfpay, id);
  const qfpayProducts = (ids: readonly string[]) => findQfpayProducts(ctx.qfpay, ids);

  return {
    subscriptionHandle,
    runUpdate,
    subscriptionId,
    queryWorkflow,
    updateThenView,
    qfpaySubscription,
    qfpayProducts,
  };
}

type SubscriptionWorkflows = ReturnType<typeof subscriptionWorkflows>;

/** `/v1/subscriptions` routes (mounted on the authenticated router). */
export function subscriptionRouter(ctx: ApiContext): Router {
  const router = Router();
  const workflows = subscriptionWorkflows(ctx);
  creationRoutes(router, ctx);
  readRoutes(router, ctx, workflows);
  changeRoutes(router, ctx, workflows);
  return router;
}

/** A creation, and its result by Idempotency-Key. */
function creationRoutes(router: Router, ctx: ApiContext): void {
  const { temporal, config, timeouts } = ctx;

  handle(router, 'createSubscription', async (req: Request, res: Response) => {
    const idempotencyKey = idempotencyKeyOf(req, true);
    const body = parseInput(CreateSubscriptionBodySchema, req.body, 'body');
    const policy = policyWithOverride(ctx.defaultPolicy, body.dunning_policy);
    const metadata = body.metadata === undefined ? undefined : heldMetadata(ctx.digests, body.metadata);
    // On a test clock it lives in the clock's time, and is made in the clock's world.
    if (body.test_clock !== undefined) await testClockOf(ctx, body.test_clock);
    const options = workflowOptions(config);
    const input = creationInput(
      body,
      policy,
      body.test_clock === undefined ? options : { ...options, testClock: body.test_clock },
      metadata,
    );
    const { handle, replayed } = await startIdempotentCreation(ctx, req, {
      kind: 'subscription',
      idempotencyKey,
      body,
      workflowType: WORKFLOW_TYPES.createSubscription,
      args: [input],
    });

    await answerCreation(ctx, res, { handle, replayed, idempotencyKey });
  });

  handle(router, 'getCreation', async (req: Request, res: Response) => {
    const { idempotencyKey } = parseInput(CreationParamsSchema, req.params, 'path');
    const handle = creationHandle(ctx, req, 'subscription', idempotencyKey);
    let status: string;
    try {
      status = (await withinDeadline(temporal, timeouts.temporalMs, () => handle.describe())).status.name;
    } catch (err) {
      if (isWorkflowNotFound(err))
        throw ApiError.notFound(`no subscription creation with key ${idempotencyKey}`, err);
      throw err;
    }
    const base = { idempotency_key: idempotencyKey, replayed: true };
    if (status === 'RUNNING') {
      const running: CreationResponse = { ...base, status: 'running', result: null, error: null };
      res.location(creationLocation(idempotencyKey)).json(running);
      return;
    }
    try {
      const result = (await withinDeadline(temporal, timeouts.temporalMs, () =>
        handle.result(),
      )) as CreateSubscriptionResult;
      const done: CreationResponse = {
        ...base,
        status: 'completed',
        result: creationResultView(result),
        error: null,
      };
      res.json(done);
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const failure = toApiError(err);
      const failed: CreationResponse = {
        ...base,
        status: 'failed',
        result: null,
        error: failure.toBody(req.id).error,
      };
      res.json(failed);
    }
  });

  // Reading ---------------------------------------------------------------------------------------
}

/** The list, one subscription, its orders and its schedule. */
function readRoutes(router: Router, ctx: ApiContext, workflows: SubscriptionWorkflows): void {
  const { temporal, timeouts } = ctx;
  const { subscriptionId, queryWorkflow } = workflows;
  handle(router, 'listSubscriptions', async (req: Request, res: Response) => {
    const query = parseInput(ListSubscriptionsQuerySchema, req.query, 'query');
    const digest =
      query.metadata_key === undefined || query.metadata_value === undefined
        ? undefined
        : ctx.digests.metadataDigest(query.metadata_key, query.metadata_value);
    const visibilityQuery = listQuery(query, digest);
    // The cursor holds Temporal's page token, tied to the visibility query it pages through.
    const nextPageToken = cursorPosition(ctx, query.cursor, visibilityQuery);
    const response = await withinDeadline(temporal, timeouts.temporalMs, () =>
      temporal.workflowService.listWorkflowExecutions({
        namespace: temporal.options.namespace,
        query: visibilityQuery,
        pageSize: query.limit,
        nextPageToken,
      }),
    );
    // The metadata is in each run's memo, encrypted: decoded with the client's codec.
    const memos = await Promise.all(
      (response.executions ?? []).map((raw) =>
        decodeMapFromPayloads(temporal.options.loadedDataConverter, raw.memo?.fields),
      ),
    );
    const body: SubscriptionListResponse = {
      data: (response.executions ?? []).map((raw, i) => {
        const workflowId = raw.execution?.workflowId ?? '';
        const attributes = decodeTypedSearchAttributes(raw.searchAttributes?.indexedFields);
        const nextBilling = attributes.get(SEARCH_ATTRIBUTES.nextBillingTime);
        const state = attributes.get(SEARCH_ATTRIBUTES.state);
        return {
          subscription_id:
            renamedAttribute(attributes, 'subscriptionId') ??
            subscriptionIdOfWorkflow(workflowId) ??
            workflowId,
          workflow_id: workflowId,
          state: LifecycleStateSchema.safeParse(state).data ?? null,
          next_billing_time: nextBilling instanceof Date ? nextBilling.toISOString() : null,
          customer_id: renamedAttribute(attributes, 'customerId') ?? null,
          dunning_stage: attributes.get(SEARCH_ATTRIBUTES.dunningStage) ?? null,
          status: raw.status === WORKFLOW_STATUS_RUNNING ? 'running' : 'closed',
          metadata: memoMetadata(memos[i]),
        };
      }),
      next_cursor: ctx.digests.encodeCursor(response.nextPageToken, visibilityQuery),
    };
    res.json(body);
  });

  handle(router, 'getSubscription', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    res.json(subscriptionView(await queryWorkflow(id, (h) => h.query(snapshotQuery))));
  });

  /** Every order of a subscription with its attempts, through its gateway. */
  async function ordersOf(id: string, payments: readonly PaymentAttemptRecord[]) {
    const { module, adapter, gatewayId } = subscriptionGateway(ctx, id);
    if (adapter.orders) {
      const listed = await adapter.orders(gatewayId);
      if (!listed) throw ApiError.notFound(`${module.label} has no subscription ${id}`);
      return ordersView(listed, payments);
    }
    const synced = await adapter.sync(gatewayId, { sinceSequence: 1 });
    if (!synced.found) throw ApiError.notFound(`${module.label} has no subscription ${id}`);
    return ordersView(listedFromSync(synced.fact.orders ?? []), payments);
  }

  handle(router, 'listSubscriptionOrders', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const query = parseInput(ListQuerySchema, req.query, 'query');
    const scope = listScope(`subscriptions/${id}/orders`, query);
    const from = cursorOffset(ctx, query.cursor, scope);
    const payments = await queryWorkflow(id, (h) => h.query(paymentsQuery));
    const orders = await ordersOf(id, payments);
    const view: OrderListResponse = pageFrom(ctx, orders, from, query.limit, scope);
    res.json(view);
  });

  handle(router, 'getSubscriptionSchedule', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const { count } = parseInput(ScheduleQuerySchema, req.query, 'query');
    const view = await queryWorkflow(id, (h) => h.query(snapshotQuery));
    const { module, adapter, gatewayId } = subscriptionGateway(ctx, id);
    if (!adapter.plan) throw ApiError.conflict(`${module.label} cannot state its billing plan`);
    const plan = await adapter.plan(gatewayId);
    if (!plan) throw ApiError.notFound(`${module.label} has no subscription ${id}`);
    res.json(gatewaySchedule({ subscriptionId: id, plan, view, count }));
  });

  // Changes ---------------------------------------------------------------------------------------
}

/** Every change of a subscription: an update of its workflow, answered with its view. */
function changeRoutes(router: Router, ctx: ApiContext, workflows: SubscriptionWorkflows): void {
  const { temporal, timeouts } = ctx;
  const {
    subscriptionHandle,
    subscriptionId,
    updateThenView,
    runUpdate,
    queryWorkflow,
    qfpaySubscription,
    qfpayProducts,
  } = workflows;
  handle(router, 'cancelSubscription', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    // The reason is checked and then dropped: free text stays out of Temporal.
    const body = parseInput(CancelBodySchema, req.body ?? {}, 'body');
    const view = await updateThenView(id, (h) =>
      body.at_period_end === true
        ? h.executeUpdate(scheduleCancelUpdate, { args: [{}] })
        : h.executeUpdate(cancelUpdate, { args: [{}] }),
    );
    res.json(subscriptionView(view));
  });

  handle(router, 'undoCancelSubscription', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    parseInput(EmptyBodySchema, req.body ?? {}, 'body');
    const view = await updateThenView(id, (h) => h.executeUpdate(unscheduleCancelUpdate, { args: [] }));
    res.json(subscriptionView(view));
  });

  handle(router, 'changePaymentToken', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const body = parseInput(ChangePaymentTokenBodySchema, req.body, 'body');
    const view = await updateThenView(id, (h) =>
      h.executeUpdate(changePaymentTokenUpdate, { args: [{ tokenId: body.token_id }] }),
    );
    res.json(subscriptionView(view));
  });

  handle(router, 'changeTotalBillingCycles', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const body = parseInput(ChangeTotalBillingCyclesBodySchema, req.body, 'body');
    const view = await updateThenView(id, (h) =>
      h.executeUpdate(changeTotalBillingCyclesUpdate, {
        args: [{ totalBillingCycles: body.total_billing_cycles }],
      }),
    );
    res.json(subscriptionView(view));
  });

  handle(router, 'changePrice', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const body = parseInput(ChangePriceBodySchema, req.body, 'body');
    const view = await updateThenView(id, (h) =>
      h.executeUpdate(changePriceUpdate, { args: [{ amount: body.amount, currency: body.currency }] }),
    );
    res.json(subscriptionView(view));
  });

  handle(router, 'chargeNow', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const body = parseInput(ChargeBodySchema, req.body ?? {}, 'body');
    const result = await runUpdate(id, (h) =>
      h.executeUpdate(chargeNowUpdate, {
        args: [body.order_id === undefined ? {} : { orderId: body.order_id }],
      }),
    );
    const view = await withinDeadline(temporal, timeouts.temporalMs, () =>
      subscriptionHandle(id).query(snapshotQuery),
    );
    res.json(chargeResultView(result, view));
  });

  handle(router, 'syncSubscription', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    parseInput(EmptyBodySchema, req.body ?? {}, 'body');
    const view = await updateThenView(id, (h) => h.executeUpdate(syncNowUpdate, { args: [] }));
    res.json(subscriptionView(view));
  });

  /**
   * Refuses a plan with a product in another currency than the subscription's (its products' at
   * QFPay; for a subscription QFPay does not show, the plan's first product's): a subscription bills
   * one amount in one currency. QFPay's documents do not say that it checks this, so the engine does,
   * before the change reaches the workflow.
   * @throws ApiError 409 naming each product line in another currency
   */
  async function checkPlanCurrency(id: string, lines: ChangeProductsBody['products']): Promise<void> {
    // Only a gateway whose plan is its products takes a change of them (elsewhere the workflow
    // answers 409 naming the capability); their currencies are checked at that gateway.
    if (!gatewayProfile(splitSubscriptionId(id).gateway)?.capabilities.changeProducts) return;
    const remote = await qfpaySubscription(id);
    const [current] = await qfpayProducts((remote?.products ?? []).map((line) => line.product_id));
    const wanted = await qfpayProducts(lines.map((line) => line.product_id));
    const currency = (current ?? wanted[0])?.txcurrcd.toUpperCase();
    if (currency === undefined) return; // QFPay knows none of them: its update answers for itself
    const others = lines.flatMap((line, index) => {
      const product = wanted.find((p) => p.product_id === line.product_id);
      const its = product?.txcurrcd.toUpperCase();
      return its === undefined || its === currency
        ? []
        : [{ path: `products.${index}.product_id`, message: `${line.product_id} bills in ${its}` }];
    });
    if (others.length === 0) return;
    throw new ApiError({
      status: 409,
      code: 'conflict',
      message:
        `the subscription bills in ${currency}; a subscription's products must share its currency ` +
        `(${others.map((o) => o.message).join(', ')})`,
      details: others,
    });
  }

  handle(router, 'changeProducts', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const body = parseInput(ChangeProductsBodySchema, req.body, 'body');
    await checkPlanCurrency(id, body.products);
    const products = body.products.map((p) => ({ productId: p.product_id, quantity: p.quantity }));
    const view = await updateThenView(id, (h) =>
      h.executeUpdate(changeProductsUpdate, { args: [{ products }] }),
    );
    res.json(subscriptionView(view));
  });

  // A pause is the gateway's (refused, 409, where the gateway has none: it would go on charging);
  // a hold is the engine's own, of its dunning only, on every gateway.
  const pauseRoute = (
    id: OperationId,
    scope: HoldScope,
    schema: typeof PauseBodySchema | typeof HoldBodySchema,
  ) =>
    handle(router, id, async (req: Request, res: Response) => {
      const id = subscriptionId(req);
      const body = parseInput(schema, req.body ?? {}, 'body');
      const field = 'until' in body ? 'until' : 'resumes_at';
      const given = 'until' in body ? body.until : 'resumes_at' in body ? body.resumes_at : undefined;
      const resumesAt = given == null ? null : Date.parse(given);
      // The workflow checks it again against its own clock (409 when the time has come meanwhile).
      if (resumesAt !== null && resumesAt <= Date.now()) {
        throw ApiError.validation('invalid body', [{ path: field, message: 'must be in the future' }]);
      }
      const view = await updateThenView(id, (h) =>
        h.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt, scope }] }),
      );
      res.json(subscriptionView(view));
    });
  const resumeRoute = (id: OperationId, scope: HoldScope) =>
    handle(router, id, async (req: Request, res: Response) => {
      const id = subscriptionId(req);
      parseInput(EmptyBodySchema, req.body ?? {}, 'body');
      const view = await updateThenView(id, (h) =>
        h.executeUpdate(resumeBillingUpdate, { args: [{ scope }] }),
      );
      res.json(subscriptionView(view));
    });
  pauseRoute('pauseBilling', 'gateway', PauseBodySchema);
  resumeRoute('resumeBilling', 'gateway');
  pauseRoute('holdDunning', 'dunning', HoldBodySchema);
  resumeRoute('releaseDunning', 'dunning');

  handle(router, 'setSubscriptionMetadata', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const { metadata } = parseInput(SetMetadataBodySchema, req.body, 'body');
    // The limit is on the metadata after the change: 400 when the merchant's own change passes it
    // (the workflow's validator refuses too, with 409, when another change came in between).
    const before = await queryWorkflow(id, (h) => h.query(snapshotQuery));
    const change = metadataChange(ctx.digests, metadata);
    const problem = metadataChangeProblem(heldMetadata(ctx.digests, before.metadata ?? {}), change);
    if (problem !== undefined)
      throw ApiError.validation('invalid body', [{ path: 'metadata', message: problem }]);
    const view = await updateThenView(id, (h) => h.executeUpdate(setMetadataUpdate, { args: [change] }));
    res.json(subscriptionView(view));
  });

  handle(router, 'changeDunningPolicy', async (req: Request, res: Response) => {
    const id = subscriptionId(req);
    const override = parseInput(DunningPolicyOverrideBodySchema, req.body, 'body');
    // The workflow merges the override onto the subscription's current policy.
    const view = await updateThenView(id, (h) =>
      h.executeUpdate(changeDunningPolicyUpdate, { args: [override] }),
    );
    res.json(subscriptionView(view));
  });
}

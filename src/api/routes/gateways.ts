/**
 * The gateways behind the port, as merchants and gateways reach them:
 *
 * - `GET /v1/gateways`: every gateway and what it can do (the capability table);
 * - `POST /v1/gateways/:gateway/subscriptions`: a creation on that gateway, idempotent by
 *   `Idempotency-Key` like `POST /v1/subscriptions` (which stays QFPay's, with its customers,
 *   products and tokens);
 */
import { Router, type Request, type Response } from 'express';
import type { GatewayInputIssue, GatewayModule } from '../../gateways/port';
import { finalActionProblem, type DunningPolicy } from '../../domain/episode/dunning';
import { gatewayTable, profileOf } from '../../gateways/registry';
import { WORKFLOW_TYPES, type CreateGatewaySubscriptionInput } from '../../workflows/definitions';
import { workflowOptions, type ApiContext } from '../context';
import { ApiError } from '../errors';
import { idempotencyKeyOf, merchantOf, startIdempotentCreation } from '../idempotency';
import {
  GatewayCreateSubscriptionBodySchema,
  ListQuerySchema,
  type GatewayCreateSubscriptionBody,
  type GatewayListResponse,
} from '../schemas';
import { cursorOffset, listScope, pageFrom } from '../paging';
import { parseInput } from '../validate';
import { gatewayView } from '../views';
import { configuredModule } from './gateway-modules';
import { answerCreation, policyWithOverride } from './subscriptions';
import { gatewayTestClock } from './test-clocks';
import { handle } from '../route';
import { heldMetadata } from '../metadata';

/** The creation's input: the merchant's request, with the reference derived from its key. */
export function gatewayCreationInput(
  module: GatewayModule,
  body: GatewayCreateSubscriptionBody,
  reference: string,
  ctx: ApiContext,
): CreateGatewaySubscriptionInput {
  return {
    gateway: profileOf(module),
    create: {
      reference,
      customer: {
        id: body.customer.id,
        ...(body.customer.email === undefined ? {} : { email: body.customer.email }),
        ...(body.customer.name === undefined ? {} : { name: body.customer.name }),
      },
      plan: {
        name: body.plan.name,
        amount: body.plan.amount,
        currency: body.plan.currency,
        interval: body.plan.interval,
        totalCycles: body.plan.total_cycles ?? null,
        ...(body.plan.end_date === undefined ? {} : { endDate: Date.parse(body.plan.end_date) }),
      },
      ...(body.payment_method ? { paymentMethod: { token: body.payment_method.token } } : {}),
    },
    policy: gatewayPolicy(module, ctx.defaultPolicy, body.dunning_policy),
    ...(body.metadata === undefined ? {} : { metadata: heldMetadata(ctx.digests, body.metadata) }),
    options: workflowOptions(ctx.config),
  };
}

/**
 * The subscription's policy: the merchant's override on the engine's default. A final action the
 * gateway cannot carry out is a 400 when the merchant asked for it; when it comes from the
 * engine's default (`DUNNING_POLICY`), recovery is left to the gateway instead, and the view says so.
 * @throws ApiError 400 naming `dunning_policy.final_action`
 */
function gatewayPolicy(
  module: GatewayModule,
  base: DunningPolicy,
  override: GatewayCreateSubscriptionBody['dunning_policy'],
): DunningPolicy {
  const policy = policyWithOverride(base, override);
  const problem = finalActionProblem(policy.finalAction, { name: module.name, ...module.capabilities });
  if (problem === undefined) return policy;
  if (override?.finalAction !== undefined)
    throw ApiError.validation(`invalid body for ${module.name}`, [
      { path: 'dunning_policy.final_action', message: problem },
    ]);
  return { ...policy, finalAction: 'leave_to_gateway' };
}

/** A field of the gateway's creation input as the merchant wrote it: `plan.totalCycles` → `plan.total_cycles`. */
function bodyPath(issue: GatewayInputIssue): string {
  return issue.path.map((part) => part.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)).join('.');
}

/**
 * Refuses input the gateway cannot take, before a workflow starts or the gateway hears of it.
 * @throws ApiError 400 naming each field
 */
function checkGatewayInput(module: GatewayModule, input: CreateGatewaySubscriptionInput): void {
  const issues = module.createInputIssues(input.create);
  if (issues.length === 0) return;
  throw ApiError.validation(
    `invalid body for ${module.name}`,
    issues.map((issue) => ({ path: bodyPath(issue), message: issue.message })),
  );
}

/** `/v1/gateways` routes (mounted on the authenticated router). */
export function gatewayRouter(ctx: ApiContext): Router {
  const router = Router();

  handle(router, 'listGateways', (req: Request, res: Response) => {
    const query = parseInput(ListQuerySchema, req.query, 'query');
    const scope = listScope('gateways', query);
    const from = cursorOffset(ctx, query.cursor, scope);
    const view: GatewayListResponse = pageFrom(
      ctx,
      gatewayTable().map(gatewayView),
      from,
      query.limit,
      scope,
    );
    res.json(view);
  });

  handle(router, 'createGatewaySubscription', async (req: Request, res: Response) => {
    const module = configuredModule(ctx, req.params);
    const idempotencyKey = idempotencyKeyOf(req, true);
    const body = parseInput(GatewayCreateSubscriptionBodySchema, req.body, 'body');
    // The gateway's merchant reference (a title, an order number): the same for every retry of
    // this request, and never the merchant's key itself (a keyed digest of it, shortened).
    const reference = `eng${ctx.digests
      .idempotencyDigest(merchantOf(req), 'subscription', idempotencyKey)
      .slice(0, 29)}`;
    const input = gatewayCreationInput(module, body, reference, ctx);
    checkGatewayInput(module, input);
    if (body.test_clock !== undefined) {
      await gatewayTestClock(ctx, module, body.test_clock);
      input.options = { ...input.options, testClock: body.test_clock };
    }
    const { handle, replayed } = await startIdempotentCreation(ctx, req, {
      kind: 'subscription',
      idempotencyKey,
      body: { gateway: module.name, ...body },
      workflowType: WORKFLOW_TYPES.createGatewaySubscription,
      args: [input],
    });
    await answerCreation(ctx, res, { handle, replayed, idempotencyKey });
  });

  return router;
}

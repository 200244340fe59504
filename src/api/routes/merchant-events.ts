/**
 * The merchant event delivery log an operator queries: `GET /v1/merchant-events?status=failed`,
 * `POST /v1/merchant-events/:eventId/redeliver`, and the endpoint's switch (a `410 Gone` turns it
 * off; `POST /v1/merchant-endpoint/enable` turns it back on).
 *
 * Every delivery is a workflow `merchant-event:<event id>` (src/workflows/merchant-event-delivery.ts):
 * the list reads their search attributes and memo from Temporal visibility; a redelivery is a new
 * run of the same id, with the event its first run was given (same id, same body).
 */
import { WorkflowExecutionAlreadyStartedError, type WorkflowExecutionInfo } from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { Router, type Request, type Response } from 'express';
import { MerchantEndpointSwitch, redactUrl } from '../../events/merchant-endpoint';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  type MerchantEvent,
  type MerchantEventDeliveryMemo,
} from '../../workflows/definitions';
import { withinDeadline, type ApiContext } from '../context';
import { ApiError, isWorkflowNotFound } from '../errors';
import {
  EmptyBodySchema,
  ListMerchantEventsQuerySchema,
  MerchantEventDeliveryStatusSchema,
  MerchantEventParamsSchema,
  type ListMerchantEventsQuery,
  type MerchantEndpointResponse,
  type MerchantEventDeliveryResponse,
  type MerchantEventListResponse,
} from '../schemas';
import { parseInput } from '../validate';
import { cursorPosition } from '../paging';
import { quoteQueryValue, renamedAttribute, renamedAttributeEquals } from './subscriptions';
import { handle } from '../route';

/** The id of the workflow that delivers the event `eventId`. */
export const merchantEventWorkflowId = (eventId: string): string => `merchant-event:${eventId}`;

/** The event a delivery workflow delivers, from its id (the inverse of {@link merchantEventWorkflowId}). */
export const eventIdOfDelivery = (workflowId: string): string =>
  workflowId.slice(merchantEventWorkflowId('').length);

/** The visibility query of the delivery list. */
export function merchantEventListQuery(
  filters: Pick<ListMerchantEventsQuery, 'status' | 'subscription_id'>,
): string {
  const clauses = [`WorkflowType = ${quoteQueryValue(WORKFLOW_TYPES.merchantEventDelivery)}`];
  if (filters.status !== undefined) {
    clauses.push(`${SEARCH_ATTRIBUTES.merchantEventStatus.name} = ${quoteQueryValue(filters.status)}`);
  }
  if (filters.subscription_id !== undefined) {
    clauses.push(renamedAttributeEquals('subscriptionId', filters.subscription_id));
  }
  return clauses.join(' AND ');
}

/**
 * One page of merchant event deliveries from visibility, the latest run of each only: a redelivery
 * is a new run of the same id, and visibility lists every run.
 */
export async function listLatestDeliveries(
  ctx: ApiContext,
  visibilityQuery: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ infos: WorkflowExecutionInfo[]; nextCursor: string | null }> {
  const { temporal, timeouts } = ctx;
  const within = <T>(fn: () => Promise<T>) => withinDeadline(temporal, timeouts.temporalMs, fn);
  const nextPageToken = cursorPosition(ctx, page.cursor, visibilityQuery);
  const namespace = temporal.options.namespace;
  const response = await within(() =>
    temporal.workflowService.listWorkflowExecutions({
      namespace,
      query: visibilityQuery,
      pageSize: page.limit,
      nextPageToken,
    }),
  );
  const infos = await Promise.all(
    (response.executions ?? []).map((raw) =>
      executionInfoFromRaw(raw, temporal.options.loadedDataConverter, raw, namespace),
    ),
  );
  const latest = await Promise.all(
    infos.map((info) =>
      within(() => temporal.workflow.getHandle(info.workflowId).describe()).then(
        (d) => d.runId === info.runId,
        () => true,
      ),
    ),
  );
  return {
    infos: infos.filter((_, i) => latest[i]),
    nextCursor: ctx.digests.encodeCursor(response.nextPageToken, visibilityQuery),
  };
}

/**
 * The event a delivery was started with (a redelivery's run is started with the same event), as
 * the merchant's endpoint receives it.
 * @throws ApiError 404 when no delivery of `eventId` exists (never recorded, or past retention)
 */
export async function deliveredEvent(ctx: ApiContext, eventId: string): Promise<MerchantEvent> {
  const { temporal, timeouts } = ctx;
  const handle = temporal.workflow.getHandle(merchantEventWorkflowId(eventId));
  try {
    const history = await withinDeadline(temporal, timeouts.temporalMs, () => handle.fetchHistory());
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    return await decodeFromPayloadsAtIndex<MerchantEvent>(
      temporal.options.loadedDataConverter,
      0,
      started?.input?.payloads,
    );
  } catch (err) {
    if (isWorkflowNotFound(err)) throw ApiError.notFound(`merchant event ${eventId} not found`, err);
    throw err;
  }
}

/** `/v1/merchant-events` and `/v1/merchant-endpoint` (mounted on the authenticated router). */
export function merchantEventRouter(ctx: ApiContext): Router {
  const router = Router();
  const { temporal, timeouts, config } = ctx;
  const url = config.MERCHANT_EVENTS_URL || undefined;
  const endpointSwitch = url
    ? new MerchantEndpointSwitch(temporal, url, config.TEMPORAL_TASK_QUEUE)
    : undefined;
  const within = <T>(fn: () => Promise<T>) => withinDeadline(temporal, timeouts.temporalMs, fn);

  handle(router, 'listMerchantEvents', async (req: Request, res: Response) => {
    const query = parseInput(ListMerchantEventsQuerySchema, req.query, 'query');
    const visibilityQuery = merchantEventListQuery(query);
    const page = await listLatestDeliveries(ctx, visibilityQuery, query);
    const deliveries = page.infos.map((info): MerchantEventDeliveryResponse => {
      const attributes = info.typedSearchAttributes;
      const memo = (info.memo ?? {}) as MerchantEventDeliveryMemo;
      const last = memo.lastAttempt;
      return {
        event_id: eventIdOfDelivery(info.workflowId),
        type: attributes.get(SEARCH_ATTRIBUTES.merchantEventType) ?? null,
        subscription_id: renamedAttribute(attributes, 'subscriptionId') ?? null,
        status:
          MerchantEventDeliveryStatusSchema.safeParse(attributes.get(SEARCH_ATTRIBUTES.merchantEventStatus))
            .data ?? null,
        attempts: attributes.get(SEARCH_ATTRIBUTES.merchantEventAttempts) ?? 0,
        last_attempt: last
          ? { attempt: last.attempt, at: last.at, http_status: last.httpStatus, reason: last.reason }
          : null,
        next_attempt_at: memo.nextAttemptAt ?? null,
        failure: memo.failure ?? null,
        started_at: info.startTime.toISOString(),
      };
    });
    const body: MerchantEventListResponse = { data: deliveries, next_cursor: page.nextCursor };
    res.json(body);
  });

  handle(router, 'redeliverMerchantEvent', async (req: Request, res: Response) => {
    const { eventId } = parseInput(MerchantEventParamsSchema, req.params, 'path');
    parseInput(EmptyBodySchema, req.body ?? {}, 'body');
    if (!url || !endpointSwitch)
      throw ApiError.conflict('merchant events are off: no MERCHANT_EVENTS_URL is configured');
    const endpoint = await within(() => endpointSwitch.state());
    if (!endpoint.enabled) {
      throw ApiError.conflict(
        `the merchant endpoint is turned off since ${endpoint.at} (HTTP ${endpoint.status} for ${endpoint.eventId}); ` +
          'turn it back on with POST /v1/merchant-endpoint/enable first',
      );
    }
    const workflowId = merchantEventWorkflowId(eventId);
    const event = await deliveredEvent(ctx, eventId);
    try {
      await within(() =>
        temporal.workflow.start(WORKFLOW_TYPES.merchantEventDelivery, {
          workflowId,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          args: [event],
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          staticSummary: `redeliver ${event.type} for ${event.subscription_id}`,
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw ApiError.conflict(`merchant event ${eventId} is being delivered; wait for it to end`, err);
      }
      throw err;
    }
    res.status(202).json({ event_id: eventId, status: 'pending' });
  });

  handle(router, 'getMerchantEndpoint', async (_req: Request, res: Response) => {
    res.json(await endpointView());
  });

  handle(router, 'enableMerchantEndpoint', async (req: Request, res: Response) => {
    parseInput(EmptyBodySchema, req.body ?? {}, 'body');
    if (!endpointSwitch)
      throw ApiError.conflict('merchant events are off: no MERCHANT_EVENTS_URL is configured');
    await within(() => endpointSwitch.turnOn());
    const view: MerchantEndpointResponse = {
      endpoint: redactUrl(endpointSwitch.endpoint),
      enabled: true,
      turned_off: null,
    };
    res.json(view);
  });

  async function endpointView(): Promise<MerchantEndpointResponse> {
    if (!url || !endpointSwitch) return { endpoint: null, enabled: false, turned_off: null };
    const state = await within(() => endpointSwitch.state());
    return {
      endpoint: redactUrl(url),
      enabled: state.enabled,
      turned_off: state.enabled ? null : { at: state.at, status: state.status, event_id: state.eventId },
    };
  }

  return router;
}

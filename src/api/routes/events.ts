/**
 * The events API: `GET /v1/events` and `GET /v1/events/:eventId`, the merchant events themselves,
 * with the same body the merchant's endpoint receives. A merchant whose endpoint was down catches
 * up by listing, not only by redelivery.
 *
 * Every event the engine sends has a delivery workflow `merchant-event:<event id>` that holds it
 * (src/workflows/merchant-event-delivery.ts): the list reads them from Temporal visibility, and
 * each event from its delivery's input. So events are kept as long as the namespace keeps closed
 * workflows (its retention: `TEMPORAL_NAMESPACE_RETENTION`, 30 days in docker-compose.yml), and
 * only while merchant events are on (`MERCHANT_EVENTS_URL`): a subscription started without them
 * records none.
 */
import { Router, type Request, type Response } from 'express';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import type { ApiContext } from '../context';
import { parseInput } from '../validate';
import {
  ListEventsQuerySchema,
  MerchantEventParamsSchema,
  type EventListResponse,
  type ListEventsQuery,
} from '../schemas';
import { handle } from '../route';
import {
  deliveredEvent,
  eventIdOfDelivery,
  listLatestDeliveries,
  merchantEventListQuery,
} from './merchant-events';
import { quoteQueryValue } from './subscriptions';
import { testClocksAllowed } from './test-clocks';

/**
 * The visibility query of the events list. A delivery never starts before its event was created,
 * so `created_after` bounds the deliveries' start; `created_before` does not (a redelivery starts
 * a new run at any later time), and is applied to the events themselves. Where test clocks exist
 * (`clockTimes`), an event may be dated in its clock's time, ahead of the real time its delivery
 * started: there the range is applied to the events only.
 */
export function eventListQuery(
  filters: Omit<ListEventsQuery, 'limit' | 'cursor'>,
  { clockTimes = false }: { clockTimes?: boolean } = {},
): string {
  const clauses = [merchantEventListQuery({ subscription_id: filters.subscription_id })];
  if (filters.type !== undefined) {
    clauses.push(`${SEARCH_ATTRIBUTES.merchantEventType.name} = ${quoteQueryValue(filters.type)}`);
  }
  if (filters.created_after !== undefined && !clockTimes) {
    clauses.push(`StartTime >= ${quoteQueryValue(new Date(filters.created_after).toISOString())}`);
  }
  return clauses.join(' AND ');
}

/** `/v1/events` (mounted on the authenticated router). */
export function eventRouter(ctx: ApiContext): Router {
  const router = Router();

  handle(router, 'listEvents', async (req: Request, res: Response) => {
    const query = parseInput(ListEventsQuerySchema, req.query, 'query');
    const clockTimes = testClocksAllowed(ctx);
    const page = await listLatestDeliveries(ctx, eventListQuery(query, { clockTimes }), query);
    const events = await Promise.all(
      page.infos.map((info) => deliveredEvent(ctx, eventIdOfDelivery(info.workflowId))),
    );
    const after = query.created_after === undefined ? -Infinity : Date.parse(query.created_after);
    const before = query.created_before === undefined ? Infinity : Date.parse(query.created_before);
    const body: EventListResponse = {
      // The range is on the event's own time: a page may hold fewer than `limit` (follow next_cursor).
      data: events.filter((e) => Date.parse(e.created_at) >= after && Date.parse(e.created_at) < before),
      next_cursor: page.nextCursor,
    };
    res.json(body);
  });

  handle(router, 'getEvent', async (req: Request, res: Response) => {
    const { eventId } = parseInput(MerchantEventParamsSchema, req.params, 'path');
    res.json(await deliveredEvent(ctx, eventId));
  });

  return router;
}

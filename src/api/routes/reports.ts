/**
 * `GET /v1/reports/dunning`: the recovery figures of a time range, by gateway and dunning policy.
 *
 * The outcomes are the episodes each subscription's workflow holds (its open one and its recent
 * history, `MAX_EPISODE_HISTORY`). The report lists from visibility only the subscriptions whose
 * `DunningActivityAt` (the latest opening or closing of one of their episodes) is at or after the
 * range's start, reads each one's view once, and counts (src/domain/episode/dunning-report.ts).
 * Its cost grows with the subscriptions that had dunning since `from`, not with all of them.
 */
import { Router, type Request, type Response } from 'express';
import { gatewayModule } from '../../gateways/registry';
import {
  dunningReport,
  type DunningFigures,
  type ReportedSubscription,
} from '../../domain/episode/dunning-report';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES, snapshotQuery } from '../../workflows/definitions';
import { quoteQueryValue } from '../../temporal/visibility-query';
import { withinDeadline, type ApiContext } from '../context';
import { ApiError, isWorkflowNotFound } from '../errors';
import { handle } from '../route';
import { DunningReportQuerySchema, reportRange, type DunningReportResponse } from '../schemas';
import { parseInput } from '../validate';

/** Subscriptions listed, and read at once, per visibility page. */
const REPORT_PAGE_SIZE = 25;

/** The visibility query of the subscriptions a report from `from` reads. */
export function dunningReportQuery(from: number, gateway?: string): string {
  const clauses = [
    `WorkflowType = ${quoteQueryValue(WORKFLOW_TYPES.subscription)}`,
    `${SEARCH_ATTRIBUTES.dunningActivityAt.name} >= ${Math.floor(from)}`,
  ];
  if (gateway !== undefined) clauses.push(`${SEARCH_ATTRIBUTES.gateway.name} = ${quoteQueryValue(gateway)}`);
  return clauses.join(' AND ');
}

function figuresView(f: DunningFigures) {
  return {
    opened: f.opened,
    still_open: f.stillOpen,
    recovered: f.closed.recovered,
    exhausted: f.closed.exhausted,
    lost: f.closed.lost,
    stopped: f.closed.stopped,
    recovery_rate: f.recoveryRate,
    recovered_at: f.recoveredAt.map((r) => ({ attempt: r.attempt, offset_ms: r.offsetMs, count: r.count })),
  };
}

/** `/v1/reports` (mounted on the authenticated router). */
export function reportRouter(ctx: ApiContext): Router {
  const router = Router();
  const { temporal, timeouts } = ctx;
  const within = <T>(fn: () => Promise<T>) => withinDeadline(temporal, timeouts.temporalMs, fn);

  /** The subscriptions to count: each workflow once (visibility lists every run of it). */
  async function readSubscriptions(query: string): Promise<ReportedSubscription[]> {
    const namespace = temporal.options.namespace;
    const seen = new Set<string>();
    const read: ReportedSubscription[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const response = await within(() =>
        temporal.workflowService.listWorkflowExecutions({
          namespace,
          query,
          pageSize: REPORT_PAGE_SIZE,
          nextPageToken,
        }),
      );
      const ids: string[] = [];
      for (const raw of response.executions ?? []) {
        const id = raw.execution?.workflowId;
        if (id && !seen.has(id)) {
          seen.add(id);
          ids.push(id);
        }
      }
      const views = await Promise.all(
        ids.map((id) =>
          within(() => temporal.workflow.getHandle(id).query(snapshotQuery)).catch((err: unknown) => {
            // Gone between the list and the read (past the namespace's retention): nothing to count.
            if (isWorkflowNotFound(err)) return undefined;
            throw err;
          }),
        ),
      );
      for (const view of views) {
        if (!view) continue;
        const { policy, episode, history } = view.dunning;
        read.push({
          gateway: view.gateway ?? 'qfpay',
          policy,
          episodes: episode ? [...history, episode] : history,
        });
      }
      nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
    } while (nextPageToken);
    return read;
  }

  handle(router, 'dunningReport', async (req: Request, res: Response) => {
    const query = parseInput(DunningReportQuerySchema, req.query, 'query');
    if (query.gateway !== undefined && !gatewayModule(query.gateway)) {
      throw ApiError.validation('invalid query', [
        { path: 'gateway', message: `unknown gateway ${query.gateway}` },
      ]);
    }
    const range = reportRange(query);
    const subscriptions = await readSubscriptions(dunningReportQuery(range.from, query.gateway));
    const report = dunningReport(subscriptions, range);
    const body: DunningReportResponse = {
      from: new Date(report.from).toISOString(),
      to: new Date(report.to).toISOString(),
      gateway: query.gateway ?? null,
      totals: figuresView(report.totals),
      groups: report.groups.map((g) => ({
        gateway: g.gateway,
        policy: { attempt_offsets: [...g.ladder.attemptOffsets], final_action: g.ladder.finalAction },
        ...figuresView(g),
      })),
      subscriptions_read: subscriptions.length,
    };
    res.json(body);
  });

  return router;
}

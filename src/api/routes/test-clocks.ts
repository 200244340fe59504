/**
 * `/v1/test_clocks`: test clocks for the whole engine, only where the gateways are emulators. A
 * clock is a world of its own at the emulator and a workflow of its own in the engine
 * (`testClockWorkflow`), which runs each advance; customers, products and subscriptions made with
 * `test_clock` live on it (docs/test-clocks.md).
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { isLoopbackUrl } from '../../config';
import {
  WORKFLOW_TYPES,
  advanceTestClockUpdate,
  testClockQuery,
  testClockWorkflowId,
  testClockSearchAttributes,
  type TestClockView,
} from '../../workflows/definitions';
import type { ApiContext } from '../context';
import type { GatewayModule } from '../../gateways/port';
import { gatewayEmulatorUrls } from '../../gateways/registry';
import { ApiError, isWorkflowNotFound } from '../errors';
import { handle } from '../route';
import {
  AdvanceTestClockBodySchema,
  CreateTestClockBodySchema,
  TestClockParamsSchema,
  type DeletedResponse,
  type TestClockResponse,
} from '../schemas';
import { parseInput } from '../validate';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function clockView(clock: TestClockView): TestClockResponse {
  return {
    test_clock_id: clock.id,
    name: clock.name,
    frozen_time: new Date(clock.now).toISOString(),
    status: clock.status,
    advancing_to: iso(clock.target),
    subscriptions: clock.members.length,
  };
}

/** Whether test clocks may be used: QFPay is the emulator (a loopback URL), and not in production. */
export function testClocksAllowed(ctx: Pick<ApiContext, 'config'>): boolean {
  return ctx.config.NODE_ENV !== 'production' && isLoopbackUrl(ctx.config.QFPAY_BASE_URL);
}

/** A clock's view from its workflow, or undefined when there is none (never made, or removed). */
async function liveClock(ctx: Pick<ApiContext, 'temporal'>, id: string): Promise<TestClockView | undefined> {
  const handle = ctx.temporal.workflow.getHandle(testClockWorkflowId(id));
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
    return await handle.query(testClockQuery);
  } catch (err) {
    if (isWorkflowNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * The clock a creation names, read from its workflow.
 * @throws ApiError 409 where test clocks may not be used; 400 naming `test_clock` for one that does not exist
 */
export async function testClockOf(ctx: ApiContext, id: string): Promise<TestClockView> {
  if (!testClocksAllowed(ctx)) throw refused();
  const clock = await liveClock(ctx, id);
  if (!clock)
    throw ApiError.validation('invalid body', [{ path: 'test_clock', message: `no test clock ${id}` }]);
  return clock;
}

/**
 * A creation's test clock, checked, as the option its QFPay calls and workflow input take (`{}`
 * on no clock): what is made on a clock is made in the clock's world at the emulator.
 * @throws ApiError as {@link testClockOf}
 */
export async function creationClock(
  ctx: ApiContext,
  testClock: string | undefined,
): Promise<{ testClock?: string }> {
  if (testClock === undefined) return {};
  await testClockOf(ctx, testClock);
  return { testClock };
}

/**
 * The clock a creation on `module` names, checked: it exists, and the gateway is an emulator here
 * (a gateway configured for real has no clock's world to make it in).
 * @throws ApiError 409 where test clocks may not be used or the gateway is real; 400 naming
 *   `test_clock` for one that does not exist
 */
export async function gatewayTestClock(ctx: ApiContext, module: GatewayModule, id: string): Promise<void> {
  if (testClocksAllowed(ctx) && module.emulatorUrl(ctx.gatewayEnv) === undefined)
    throw ApiError.conflict(
      `test clocks exist only where the gateways are emulators: ${module.label} is configured for real here`,
    );
  await testClockOf(ctx, id);
}

/** What one gateway emulator answered a control call: its URL and status, 0 if it could not be reached. */
interface EmulatorAnswer {
  url: string;
  status: number;
}

/**
 * The emulators whose world of a clock is still there after the DELETE: those that answered
 * neither 200 (removed) nor 404 (not there). With `made`, only those that had made it.
 */
function notRemoved(removals: EmulatorAnswer[], made?: EmulatorAnswer[]): EmulatorAnswer[] {
  return removals.filter(
    ({ url, status }) =>
      status !== 200 &&
      status !== 404 &&
      (made === undefined || made.some((m) => m.url === url && m.status === 201)),
  );
}

/** What an emulator answered a control call, for a 502's message. */
function answerOf({ url, status }: EmulatorAnswer): string {
  return `${url} ${status === 0 ? 'could not be reached' : `answered ${status}`}`;
}

function refused(): ApiError {
  return ApiError.conflict(
    'test clocks exist only where the gateways are emulators: not in production, nor for a QFPay configured for real',
  );
}

/** `/v1/test_clocks` routes (mounted on the authenticated router). */
export function testClockRouter(ctx: ApiContext): Router {
  const router = Router();
  const { config, temporal } = ctx;
  /** The same control call at every gateway emulator (each keeps a world of the clock). */
  const emulators = (method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<EmulatorAnswer[]> =>
    Promise.all(
      gatewayEmulatorUrls(ctx.gatewayEnv).map(async (url) => {
        try {
          const res = await fetch(`${url}/_emulator/test_clocks${path}`, {
            method,
            ...(body === undefined
              ? {}
              : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
          });
          await res.arrayBuffer();
          return { url, status: res.status };
        } catch {
          return { url, status: 0 };
        }
      }),
    );
  async function read(req: Request): Promise<TestClockView> {
    const { testClockId } = parseInput(TestClockParamsSchema, req.params, 'path');
    if (!testClocksAllowed(ctx)) throw refused();
    const clock = await liveClock(ctx, testClockId);
    if (!clock) throw ApiError.notFound(`no test clock ${testClockId}`);
    return clock;
  }

  handle(router, 'createTestClock', async (req: Request, res: Response) => {
    const body = parseInput(CreateTestClockBodySchema, req.body, 'body');
    if (!testClocksAllowed(ctx)) throw refused();
    const id = `clock_${randomBytes(12).toString('hex')}`;
    const frozenTime = Date.parse(body.frozen_time);
    const made = await emulators('POST', '', { id, frozen_time: new Date(frozenTime).toISOString() });
    if (made.length === 0) throw refused();
    const failed = made.find(({ status }) => status !== 201);
    if (failed) {
      // The worlds the other emulators made would stay there, unused: they are removed first.
      const stays = notRemoved(await emulators('DELETE', `/${id}`), made);
      const kept =
        stays.length === 0
          ? 'nothing was kept'
          : `the clock's world stays at ${stays.map((e) => e.url).join(', ')}, which did not remove it`;
      throw new ApiError({
        status: 502,
        code: 'gateway_error',
        message: `the gateway emulator at ${answerOf(failed)} when asked to make the clock; ${kept}`,
      });
    }
    const handleOf = await temporal.workflow
      .start(WORKFLOW_TYPES.testClock, {
        workflowId: testClockWorkflowId(id),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{ id, name: body.name ?? null, frozenTime }],
        // `TestClock = "clock_…"` in the Web UI lists the clock's workflow beside its subscriptions.
        ...testClockSearchAttributes(id),
      })
      .catch(async (err: unknown) => {
        await emulators('DELETE', `/${id}`);
        throw err;
      });
    res.status(201).json(clockView(await handleOf.query(testClockQuery)));
  });

  handle(router, 'getTestClock', async (req: Request, res: Response) => {
    res.json(clockView(await read(req)));
  });

  handle(router, 'advanceTestClock', async (req: Request, res: Response) => {
    const clock = await read(req);
    const body = parseInput(AdvanceTestClockBodySchema, req.body, 'body');
    const to = Date.parse(body.frozen_time);
    try {
      const begun = await temporal.workflow
        .getHandle(testClockWorkflowId(clock.id))
        .executeUpdate(advanceTestClockUpdate, { args: [{ to }] });
      res.json(clockView(begun));
    } catch (err) {
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      const message = (err.cause as Error | undefined)?.message ?? err.message;
      if (/cannot go back|not a time/.test(message))
        throw ApiError.validation('invalid body', [{ path: 'frozen_time', message }]);
      throw ApiError.conflict(message, err);
    }
  });

  handle(router, 'deleteTestClock', async (req: Request, res: Response) => {
    const clock = await read(req);
    // The emulators first: one that does not remove its world leaves the clock in the engine, so
    // that asking again finishes the removal (an emulator that no longer knows it answers 404).
    const stays = notRemoved(await emulators('DELETE', `/${clock.id}`));
    if (stays.length > 0) {
      throw new ApiError({
        status: 502,
        code: 'gateway_error',
        message: `the gateway emulator at ${stays.map(answerOf).join(', ')} when asked to remove the clock; the clock stays, ask again to finish removing it`,
      });
    }
    // Removing a clock ends what lives on it: its subscriptions' workflows, then its own.
    for (const workflowId of clock.members) {
      await temporal.workflow
        .getHandle(workflowId)
        .terminate('its test clock was removed')
        .catch((err: unknown) => {
          if (!isWorkflowNotFound(err) && !/already completed/i.test(String(err))) throw err;
        });
    }
    await temporal.workflow
      .getHandle(testClockWorkflowId(clock.id))
      .terminate('removed')
      .catch((err: unknown) => {
        if (!isWorkflowNotFound(err)) throw err;
      });
    const view: DeletedResponse = { id: clock.id, deleted: true };
    res.json(view);
  });

  return router;
}

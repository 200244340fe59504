/**
 * Idempotent creation through Temporal, shared by subscriptions, customers and products: the
 * request runs in a workflow whose id is derived (by keyed HMAC) from the merchant and its
 * `Idempotency-Key`, so a retry finds the same execution and its result, and a different body
 * under the same key is refused (422). The memo records a keyed digest of the body and a nonce
 * that tells the request that started the workflow from a retry.
 */
import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Request, Response } from 'express';
import { creationWorkflowId } from '../workflows/definitions';
import { withinDeadline, type ApiContext } from './context';
import type { CreationKind } from './digests';
import { ApiError } from './errors';
import { IdempotencyHeadersSchema } from './schemas';
import { parseInput } from './validate';

/** The memo a creation workflow carries: what the request was, and which request started it. */
interface CreationMemo {
  requestHash?: unknown;
  requestNonce?: unknown;
}

/** The merchant the authenticated request acts for (set by `requireApiKey`). */
export function merchantOf(req: Request): string {
  // requireApiKey ran before every /v1 route; without it there is no scope to create in.
  if (!req.merchantId) throw new ApiError({ status: 401, code: 'unauthorized', message: 'missing API key' });
  return req.merchantId;
}

/** The request's `Idempotency-Key` header: required, or optional (`undefined` when absent). */
export function idempotencyKeyOf(req: Request, required: true): string;
export function idempotencyKeyOf(req: Request, required: false): string | undefined;
export function idempotencyKeyOf(req: Request, required: boolean): string | undefined {
  const header = req.get('idempotency-key');
  if (header === undefined && !required) return undefined;
  return parseInput(IdempotencyHeadersSchema, { 'Idempotency-Key': header }, 'Idempotency-Key header')[
    'Idempotency-Key'
  ];
}

/** The creation workflow of one merchant request. */
export function creationHandle(
  ctx: ApiContext,
  req: Request,
  kind: CreationKind,
  idempotencyKey: string,
): WorkflowHandle {
  const digest = ctx.digests.idempotencyDigest(merchantOf(req), kind, idempotencyKey);
  return ctx.temporal.workflow.getHandle(creationWorkflowId(kind, digest));
}

export interface IdempotentCreation {
  handle: WorkflowHandle;
  /** An earlier request with this key started the workflow. */
  replayed: boolean;
}

/**
 * Starts the creation workflow of a request, or attaches to the one an earlier request with the
 * same key started.
 * @param body the validated request body: the same key with another body is refused
 * @throws ApiError 422 `idempotency_mismatch` when the key was used with a different body
 */
export async function startIdempotentCreation(
  ctx: ApiContext,
  req: Request,
  options: {
    kind: CreationKind;
    idempotencyKey: string;
    body: unknown;
    workflowType: string;
    args: unknown[];
  },
): Promise<IdempotentCreation> {
  const { temporal, config, timeouts } = ctx;
  const { kind, idempotencyKey } = options;
  const workflowId = creationWorkflowId(
    kind,
    ctx.digests.idempotencyDigest(merchantOf(req), kind, idempotencyKey),
  );
  const hash = ctx.digests.requestDigest(kind, options.body);
  const nonce = randomUUID();
  const handle = await withinDeadline(temporal, timeouts.temporalMs, async () => {
    try {
      return await temporal.workflow.start(options.workflowType, {
        workflowId,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: options.args,
        // Running: attach to it. Closed (done or failed): never run the same key twice.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { requestHash: hash, requestNonce: nonce },
        // The key itself stays out of Temporal (it is the merchant's); the result names what was made.
        staticSummary: `${kind} creation requested through POST /v1/${kind === 'subscription' ? 'subscriptions' : `${kind}s`}`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return temporal.workflow.getHandle(workflowId);
    }
  });
  const description = await withinDeadline(temporal, timeouts.temporalMs, () => handle.describe());
  const memo = (description.memo ?? {}) as CreationMemo;
  if (memo.requestHash !== hash) {
    throw new ApiError({
      status: 422,
      code: 'idempotency_mismatch',
      message: 'this Idempotency-Key was already used with a different request body',
      details: [{ path: 'Idempotency-Key', message: 'reuse a key only to retry the identical request' }],
    });
  }
  return { handle, replayed: memo.requestNonce !== nonce };
}

/** Waits up to `ms` for a workflow's result; `undefined` when it is still running then. */
export async function resultWithin<T>(
  client: Client,
  handle: WorkflowHandle,
  ms: number,
): Promise<{ value: T } | undefined> {
  const deadline = Date.now() + ms;
  try {
    const value = (await client.withDeadline(deadline, () => handle.result())) as T;
    return { value };
  } catch (err) {
    if (isGrpcDeadlineError(err)) return undefined;
    // The server may end the long poll at the deadline before the client's own timer does, and
    // then answers CANCELLED: the wait ran out all the same.
    if (isGrpcCancelledError(err) && Date.now() >= deadline) return undefined;
    throw err;
  }
}

/** How long a caller is asked to wait before retrying a creation that is still running. */
const PENDING_RETRY_AFTER_SECONDS = 10;

/**
 * Runs a creation that answers synchronously (customers, products): starts or attaches to its
 * workflow, waits for the result, and tells whether an earlier request with the key did the work.
 * @throws ApiError 422 for the key used with another body; 503 `creation_pending` (Retry-After)
 *   while the creation is still running after the wait (QFPay slow or down): retry with the key
 */
export async function idempotentResult<T>(
  ctx: ApiContext,
  req: Request,
  options: Parameters<typeof startIdempotentCreation>[2],
): Promise<{ value: T; replayed: boolean }> {
  const { handle, replayed } = await startIdempotentCreation(ctx, req, options);
  const outcome = await resultWithin<T>(ctx.temporal, handle, ctx.timeouts.creationWaitMs);
  if (outcome === undefined) {
    throw new ApiError({
      status: 503,
      code: 'creation_pending',
      message:
        'the creation is still running (QFPay slow or unavailable); retry with the same Idempotency-Key',
      retryAfterSeconds: PENDING_RETRY_AFTER_SECONDS,
    });
  }
  return { value: outcome.value, replayed };
}

/** Sets `Idempotent-Replayed: true` on an answer an earlier request with the same key produced. */
export function markReplayed(res: Response, replayed: boolean): Response {
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  return res;
}

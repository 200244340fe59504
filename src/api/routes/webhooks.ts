/**
 * `POST /webhooks/:gateway`: every gateway's notifications (QFPay's at `/webhooks/qfpay`) become
 * signals. The order is fixed: the gateway's webhook verifies the signature on the raw bytes and
 * reads the notification into facts (or a payment token) without I/O; each is signalled, with
 * start, to the workflow it belongs to; and only then does the gateway hear its acknowledgement.
 * Anything else it hears is a retry request, which is what a duplicate-tolerant receiver wants
 * when it could not record the fact.
 */
import express, { Router, type Request, type Response } from 'express';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  WebhookRejection,
  type GatewayModule,
  type GatewayWebhook,
  type WebhookHeaders,
} from '../../gateways/port';
import type { Logger } from '../../logger';
import { engineSubscriptionId } from '../../domain/gateway-profile';
import type { PaymentTokenRecord } from '../../domain/payment-tokens';
import { profileOf } from '../../gateways/registry';
import {
  SUBSCRIPTION_WORKFLOW_REUSE_POLICY,
  WORKFLOW_TYPES,
  customerTokensWorkflowId,
  factSignal,
  paymentTokenSignal,
  subscriptionWorkflowId,
  testClockSearchAttributes,
  type Fact,
  type SubscriptionWorkflowInput,
} from '../../workflows/definitions';
import { subscriptionStartMetadata } from '../../workflows/summaries';
import { withinDeadline, workflowOptions, type ApiContext } from '../context';
import { ApiError, toApiError } from '../errors';
import type { WebhookResult } from '../metrics';
import { configuredModule } from './gateway-modules';
import { testClocksAllowed } from './test-clocks';
import { TEST_CLOCK_HEADER, TEST_CLOCK_ID } from '../../gateways/test-clock-header';
import { handle } from '../route';

/** The largest notification body accepted, in bytes (256 KiB). */
export const WEBHOOK_BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Signals a fact to its subscription's workflow, starting it if the engine has never seen the
 * subscription ("adopts" it). A subscription whose workflow has ended stays ended: the late
 * notification is taken (the gateway stops sending it) and changes nothing (`ended`).
 */
export async function signalSubscriptionFact(
  ctx: ApiContext,
  input: SubscriptionWorkflowInput,
  fact: Fact,
): Promise<'signalled' | 'ended'> {
  const { temporal, config } = ctx;
  try {
    await withinDeadline(temporal, ctx.timeouts.temporalMs, () =>
      temporal.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(input.subscriptionId),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [input],
        signal: factSignal,
        signalArgs: [fact],
        workflowIdReusePolicy: SUBSCRIPTION_WORKFLOW_REUSE_POLICY,
        // A notification from a test clock's world starts it listed by its clock.
        ...testClockSearchAttributes(input.options?.testClock),
        ...subscriptionStartMetadata({
          subscriptionId: input.subscriptionId,
          origin: 'adopted',
          ...(input.gateway ? { gateway: input.gateway.label } : {}),
        }),
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'ended';
    throw err;
  }
  return 'signalled';
}

/**
 * The test clock a notification comes from: every gateway's emulator names a clock's world in its
 * emulator-only header. Heard only where test clocks may be used (the emulators, not production)
 * and from a gateway that is an emulator here; anywhere else, and for a malformed id, the header
 * means nothing.
 */
function notificationTestClock(
  ctx: ApiContext,
  module: GatewayModule,
  headers: WebhookHeaders,
): string | undefined {
  if (!testClocksAllowed(ctx) || module.emulatorUrl(ctx.gatewayEnv) === undefined) return undefined;
  const id = headers[TEST_CLOCK_HEADER.toLowerCase()];
  return typeof id === 'string' && TEST_CLOCK_ID.test(id) ? id : undefined;
}

/**
 * Takes one gateway notification, whatever HTTP server carried it: verifies and reads it, signals
 * each of its facts (or its payment token), counts the result, and gives the gateway's
 * acknowledgement once every signal was taken.
 * @throws ApiError 401 for a bad signature, 400 for a notification that cannot be read, 503 when
 *   Temporal did not take a signal (the gateway sends it again)
 */
export type NotificationIntake = (
  module: GatewayModule,
  raw: Buffer,
  headers: WebhookHeaders,
  log: Logger,
) => Promise<GatewayWebhook['ack']>;

/** The {@link NotificationIntake} of an API (one gateway webhook per gateway, made on first use). */
export function notificationIntake(ctx: ApiContext): NotificationIntake {
  const { config, temporal, metrics } = ctx;
  const webhooks = new Map<string, GatewayWebhook>();

  function webhookOf(module: GatewayModule): GatewayWebhook {
    let webhook = webhooks.get(module.name);
    if (!webhook) {
      webhook = module.webhook(ctx.gatewayEnv);
      webhooks.set(module.name, webhook);
    }
    return webhook;
  }

  function signalFact(
    module: GatewayModule,
    fact: Fact,
    testClock: string | undefined,
  ): Promise<'signalled' | 'ended'> {
    const subscriptionId = engineSubscriptionId(module.name, fact.subscriptionId);
    const options = workflowOptions(config);
    const input: SubscriptionWorkflowInput = {
      subscriptionId,
      origin: 'adopted',
      policy: ctx.defaultPolicy,
      // A notification from a test clock's world that overtakes the creation's handover starts
      // the workflow on that clock, as the handover would have.
      options: testClock === undefined ? options : { ...options, testClock },
      gateway: profileOf(module),
    };
    return signalSubscriptionFact(ctx, input, { ...fact, subscriptionId });
  }

  async function signalToken(token: PaymentTokenRecord): Promise<'signalled'> {
    await withinDeadline(temporal, ctx.timeouts.temporalMs, () =>
      temporal.workflow.signalWithStart(WORKFLOW_TYPES.customerTokens, {
        workflowId: customerTokensWorkflowId(token.customerId),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{ customerId: token.customerId }],
        signal: paymentTokenSignal,
        signalArgs: [token],
      }),
    );
    return 'signalled';
  }

  return async (module, raw, headers, log) => {
    const webhook = webhookOf(module);
    let type = `${module.name}:notification`;
    const count = (result: WebhookResult): void => metrics.webhook(type, result);

    let reading;
    try {
      reading = webhook.read(raw, headers, ctx.now());
    } catch (err) {
      if (!(err instanceof WebhookRejection)) throw err;
      if (err.type !== undefined) type = err.type;
      if (err.status === 401) {
        count('invalid_signature');
        throw new ApiError({ status: 401, code: 'invalid_signature', message: err.message });
      }
      count(err.type === undefined ? 'malformed' : 'rejected');
      throw ApiError.validation(err.message, [...err.details]);
    }
    if (reading.type !== undefined) type = reading.type;

    const outcomes: string[] = [];
    const testClock = notificationTestClock(ctx, module, headers);
    try {
      if (reading.kind === 'payment_token') outcomes.push(await signalToken(reading.token));
      else if (reading.kind === 'facts')
        for (const fact of reading.facts) outcomes.push(await signalFact(module, fact, testClock));
    } catch (err) {
      const mapped = toApiError(err);
      // Temporal did not take the signal: 503, so the gateway sends the notification again.
      count(
        mapped.status < 500
          ? 'rejected'
          : mapped.code === 'temporal_unavailable'
            ? 'temporal_unavailable'
            : 'error',
      );
      throw mapped;
    }
    if (reading.kind === 'ignored') {
      count('ignored');
      log.info({ gateway: module.name, type, reason: reading.reason }, 'gateway notification ignored');
    } else {
      count(outcomes.includes('signalled') ? 'accepted' : 'late');
      log.info({ gateway: module.name, type, outcomes }, 'gateway notification taken');
    }
    return webhook.ack;
  };
}

/** The webhook router for every gateway (mounted at the app root). */
export function webhookRouter(ctx: ApiContext): Router {
  const router = Router();
  const take = notificationIntake(ctx);
  handle(
    router,
    'gatewayWebhook',
    express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES }),
    async (req: Request, res: Response) => {
      const module = configuredModule(ctx, req.params);
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const ack = await take(module, raw, req.headers, req.log);
      res.status(ack.status).type(ack.contentType).send(ack.body);
    },
  );

  return router;
}

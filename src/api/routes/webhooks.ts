/**
 * `POST /webhooks/qfpay`: QFPay's notifications become signals. The order is fixed: verify the
 * signature on the raw bytes, parse strictly, build the fact, signal-with-start the workflow the
 * notification belongs to, and only then answer `SUCCESS`. Anything else QFPay hears is a retry
 * request, which is what a duplicate-tolerant receiver wants when it could not record the fact.
 */
import express, { Router, type Request, type Response } from 'express';
import { verifyNotificationSignature } from '../../gateways/qfpay/signing';
import {
  QfpayNotificationError,
  notificationTimeMs,
  parseNotificationBody,
  type PaymentTokenNotification,
  type QfpayNotification,
} from '../../gateways/qfpay/notifications';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  SUBSCRIPTION_WORKFLOW_REUSE_POLICY,
  WORKFLOW_TYPES,
  customerTokensWorkflowId,
  factSignal,
  paymentTokenSignal,
  subscriptionWorkflowId,
  type Fact,
  type PaymentTokenRecord,
  type SubscriptionWorkflowInput,
} from '../../workflows/definitions';
import { factFromNotification } from '../../gateways/qfpay/facts';
import { subscriptionStartMetadata } from '../../workflows/summaries';
import { withinDeadline, workflowOptions, type ApiContext } from '../context';
import { ApiError, toApiError } from '../errors';
import type { WebhookResult } from '../metrics';
import { NotificationIdsSchema } from '../schemas';
import { parseInput } from '../validate';

/** The body QFPay expects from a receiver that took the notification. */
export const WEBHOOK_ACK = 'SUCCESS';

/** Where token notifications without a `customer_id` are kept. */
export const UNASSIGNED_CUSTOMER = '_unassigned';

/** The largest notification body accepted. */
export const WEBHOOK_BODY_LIMIT = '256kb';

/**
 * Masks a card number down to its first 6 and last 4 digits. QFPay already sends masked numbers
 * (`5200****1096`); this makes sure a full number can never reach workflow history.
 */
export function maskCardNumber(card: string | undefined): string | undefined {
  if (card === undefined || card.trim() === '') return undefined;
  const digits = (card.match(/\d/g) ?? []).join('');
  const compact = card.replace(/[\s-]/g, '');
  // Already masked by QFPay (at most 6 + 4 digits visible): keep QFPay's form.
  if (!/^\d+$/.test(compact) && digits.length <= 10) return card.trim();
  if (digits.length <= 4) return '*'.repeat(digits.length);
  if (digits.length < 12) return `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
  return `${digits.slice(0, 6)}${'*'.repeat(digits.length - 10)}${digits.slice(-4)}`;
}

/** The token record signalled to the customer's tokens workflow: masked card data only. */
export function paymentTokenRecord(
  notification: PaymentTokenNotification,
  receivedAt: number,
  timeOffset: string,
): PaymentTokenRecord {
  const cardMasked = maskCardNumber(notification.cardcd);
  return {
    tokenId: notification.tokenid,
    customerId: notification.customer_id ?? UNASSIGNED_CUSTOMER,
    event: notification.event,
    ...(cardMasked === undefined ? {} : { cardMasked }),
    ...(notification.card_scheme === undefined ? {} : { cardScheme: notification.card_scheme }),
    ...(notification.token_expiry_date === undefined ? {} : { expiry: notification.token_expiry_date }),
    receivedAt,
    at: notificationTimeMs(notification, timeOffset) ?? receivedAt,
  };
}

function acknowledge(res: Response): void {
  res.status(200).type('text/plain').send(WEBHOOK_ACK);
}

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
        ...subscriptionStartMetadata({ subscriptionId: input.subscriptionId, origin: 'adopted' }),
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'ended';
    throw err;
  }
  return 'signalled';
}

/** The webhook router (mounted at the app root). */
export function webhookRouter(ctx: ApiContext): Router {
  const router = Router();
  const { config, temporal, metrics } = ctx;

  async function signal(
    notification: QfpayNotification,
    receivedAt: number,
  ): Promise<'signalled' | 'ignored' | 'ended'> {
    if (notification.notify_type === 'payment_token') {
      if (notification.respcd.trim() !== '0000') return 'ignored'; // no usable token was made
      const record = paymentTokenRecord(notification, receivedAt, config.QFPAY_TIME_OFFSET);
      await withinDeadline(temporal, ctx.timeouts.temporalMs, () =>
        temporal.workflow.signalWithStart(WORKFLOW_TYPES.customerTokens, {
          workflowId: customerTokensWorkflowId(record.customerId),
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          args: [{ customerId: record.customerId }],
          signal: paymentTokenSignal,
          signalArgs: [record],
        }),
      );
      return 'signalled';
    }
    const built = factFromNotification(notification, receivedAt, config.QFPAY_TIME_OFFSET);
    if (!built.ok) {
      throw ApiError.validation(`cannot use this notification: ${built.reason}`, [
        {
          path: notification.notify_type === 'subscription' ? 'state' : 'subscription_order_id',
          message: built.reason,
        },
      ]);
    }
    const input: SubscriptionWorkflowInput = {
      subscriptionId: notification.subscription_id,
      origin: 'adopted',
      policy: ctx.defaultPolicy,
      options: workflowOptions(config),
    };
    return signalSubscriptionFact(ctx, input, built.fact);
  }

  router.post(
    '/webhooks/qfpay',
    express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }),
    async (req: Request, res: Response) => {
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let notifyType = 'unknown';
      const count = (result: WebhookResult): void => metrics.webhook(notifyType, result);

      if (config.QFPAY_VERIFY_NOTIFICATIONS) {
        const signature = req.get('x-qf-sign');
        if (!verifyNotificationSignature(raw, config.QFPAY_APP_KEY, signature)) {
          count('invalid_signature');
          throw new ApiError({
            status: 401,
            code: 'invalid_signature',
            message:
              signature === undefined ? 'missing X-QF-SIGN header' : 'X-QF-SIGN does not match the body',
          });
        }
      }

      let notification: QfpayNotification;
      try {
        notification = parseNotificationBody(raw);
        parseInput(NotificationIdsSchema, notification, 'notification');
      } catch (err) {
        if (err instanceof QfpayNotificationError || err instanceof ApiError) count('malformed');
        throw err;
      }
      notifyType = notification.notify_type;

      const receivedAt = ctx.now();
      try {
        const outcome = await signal(notification, receivedAt);
        count(outcome === 'signalled' ? 'accepted' : outcome === 'ended' ? 'late' : 'ignored');
        req.log.info(
          {
            notify_type: notifyType,
            subscription_id: 'subscription_id' in notification ? notification.subscription_id : undefined,
            outcome,
          },
          'QFPay notification taken',
        );
      } catch (err) {
        const mapped = toApiError(err);
        // Temporal did not take the signal: 503, so QFPay sends the notification again.
        count(
          mapped.status < 500
            ? 'rejected'
            : mapped.code === 'temporal_unavailable'
              ? 'temporal_unavailable'
              : 'error',
        );
        throw mapped;
      }
      acknowledge(res);
    },
  );

  return router;
}

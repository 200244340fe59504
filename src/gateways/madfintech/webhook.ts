/**
 * MadFintech's callbacks: the order's data after each charge attempt (its `payments[]` grows)
 * and after a recurring status change. Assumption (the seed documents no authentication):
 * `X-Signature` = hex HMAC-SHA256 of the raw body under the callback secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Fact } from '../../domain/lifecycle/lifecycle-types';
import { WebhookRejection, type GatewayWebhook, type WebhookHeaders, type WebhookReading } from '../port';
import { paymentFact, recurringState } from './mapping';
import { OrderSchema, type Order } from './schemas';

export const SIGNATURE_HEADER = 'x-signature';

/** The signature the gateway puts in `X-Signature`. */
export function signCallback(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

function verify(rawBody: Buffer, header: string | string[] | undefined, secret: string | undefined): boolean {
  if (!secret || typeof header !== 'string' || !/^[0-9a-fA-F]{64}$/.test(header.trim())) return false;
  const expected = Buffer.from(signCallback(rawBody, secret), 'hex');
  return timingSafeEqual(expected, Buffer.from(header.trim(), 'hex'));
}

/** The facts one callback states. */
export function callbackFacts(order: Order, receivedAt: number): Fact[] {
  const facts: Fact[] = [];
  const newest = paymentFact(order, order.payments.length - 1, 'notification', receivedAt);
  if (newest) facts.push(newest);
  const changedAt = (iso: string | undefined): number =>
    iso === undefined ? Math.max(receivedAt, newest?.at ?? 0) : Date.parse(iso);
  const rp = order.recurringPayments;
  if (rp?.recurringId && rp.status && rp.status !== 'active') {
    facts.push({
      kind: 'state',
      subscriptionId: order.orderNumber,
      state: recurringState(rp.status),
      at: changedAt(rp.updatedAt),
      source: 'notification',
    });
  } else if (!rp?.recurringId && ['expired', 'cancelled', 'refunded'].includes(order.orderStatus)) {
    facts.push({
      kind: 'state',
      subscriptionId: order.orderNumber,
      state: order.orderStatus === 'expired' ? 'INCOMPLETE_EXPIRED' : 'CANCELLED',
      at: changedAt(order.orderUpdatedAt),
      source: 'notification',
    });
  }
  return facts;
}

export function madfintechWebhook(secret: string | undefined): GatewayWebhook {
  return {
    ack: { status: 200, contentType: 'text/plain', body: 'OK' },
    read(rawBody: Buffer, headers: WebhookHeaders, receivedAt: number): WebhookReading {
      if (!verify(rawBody, headers[SIGNATURE_HEADER], secret)) {
        throw new WebhookRejection(401, 'missing or invalid X-Signature');
      }
      let json: unknown;
      try {
        json = JSON.parse(rawBody.toString('utf8'));
      } catch {
        throw new WebhookRejection(400, 'body is not JSON');
      }
      const parsed = OrderSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue?.path.map(String).join('.') ?? '';
        throw new WebhookRejection(
          400,
          `${field || 'body'}: ${issue?.message ?? 'invalid'}`,
          field || undefined,
        );
      }
      let facts: Fact[];
      try {
        facts = callbackFacts(parsed.data, receivedAt);
      } catch (err) {
        // Amounts with more decimals than their currency has.
        throw new WebhookRejection(400, err instanceof Error ? err.message : String(err), 'payments');
      }
      if (facts.length === 0) return { kind: 'ignored', reason: 'no settled payment and no state change' };
      return { kind: 'facts', facts };
    },
  };
}

/**
 * QorePay's notifications: `X-Signature` (base64 RSA PKCS#1 v1.5 SHA-256 over the raw body,
 * verified with the company public key), then the body (the object's JSON with `event_type`)
 * read strictly into the engine's facts. No I/O.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { WebhookRejection, type GatewayEnv, type GatewayWebhook, type WebhookHeaders } from '../port';
import { cancelledFact, cycleOfReference, joinSubscriptionId, paymentFact } from './mapping';
import { EVENTS, purchaseSchema, subscriberSchema } from './wire';

/** A PEM from the environment, where newlines may be written as `\n`. */
export function pemFromEnv(value: string | undefined): string | undefined {
  return value?.trim() ? value.replace(/\\n/g, '\n') : undefined;
}

const envelope = z.object({ event_type: z.string().min(1) });

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || 'body';
  throw new WebhookRejection(400, `${field}: ${issue?.message ?? 'invalid'}`, field);
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

export function qorepayWebhook(env: GatewayEnv): GatewayWebhook {
  let key: KeyObject | null | undefined;
  const publicKey = (): KeyObject | null => {
    if (key === undefined) {
      const pem = pemFromEnv(env.QOREPAY_WEBHOOK_PUBLIC_KEY);
      try {
        key = pem ? createPublicKey(pem) : null;
      } catch {
        key = null;
      }
    }
    return key;
  };

  return {
    ack: { status: 200, contentType: 'application/json', body: '{"received":true}' },

    read(rawBody, headers) {
      const signature = header(headers, 'x-signature');
      if (!signature) throw new WebhookRejection(401, 'missing X-Signature');
      const k = publicKey();
      if (!k) throw new WebhookRejection(401, 'no valid QOREPAY_WEBHOOK_PUBLIC_KEY to verify with');
      const sig = Buffer.from(signature, 'base64');
      let valid: boolean;
      try {
        valid = sig.length > 0 && verify('sha256', rawBody, k, sig);
      } catch {
        valid = false;
      }
      if (!valid) throw new WebhookRejection(401, 'bad X-Signature');

      let json: unknown;
      try {
        json = JSON.parse(rawBody.toString('utf8'));
      } catch {
        throw new WebhookRejection(400, 'body is not JSON', 'body');
      }
      const { event_type: event } = parse(envelope, json);
      if (event === EVENTS.paid || event === EVENTS.failed) {
        const p = parse(purchaseSchema, json);
        if (p.billing_template_id === null)
          return { kind: 'ignored', reason: 'a purchase of no billing template' };
        // Seed 003 gives a purchase no cycle number: without the emulator's `…#<n>` reference the
        // notification cannot place it, so it is acknowledged (QorePay would otherwise send it for
        // ever) and the subscription's next sync places it among the subscriber's purchases.
        const cycle = cycleOfReference(p.reference);
        if (cycle === null)
          return {
            kind: 'ignored',
            reason: 'the purchase reference has no cycle number: the next sync places the purchase',
          };
        const id = joinSubscriptionId(p.billing_template_id, p.client_id);
        return { kind: 'facts', facts: [paymentFact(id, p, cycle, event === EVENTS.paid)] };
      }
      if (event === EVENTS.cancelled) {
        const s = parse(subscriberSchema, json);
        const id = joinSubscriptionId(s.billing_template_id, s.client_id);
        return { kind: 'facts', facts: [cancelledFact(id, s.updated_on)] };
      }
      return { kind: 'ignored', reason: `event ${event} is of no use to the engine` };
    },
  };
}

/**
 * QorePay (CHIP-style API): subscriptions as billing templates with one subscriber each,
 * QorePay's own daily retries until the purchase is due, RSA-signed webhooks.
 */
import { loopbackEmulatorRoot, type GatewayEnv, type GatewayModule } from '../port';
import { qorepayAdapter, qorepayCreateIssues } from './adapter';
import { QOREPAY_CAPABILITIES } from './capabilities';
import { DEFAULT_QOREPAY_URL, DEFAULT_TIMEOUT_MS, QorepayClient } from './client';
import { API_PREFIX, startQorepayEmulator } from './emulator/server';
import { pemFromEnv, qorepayWebhook } from './webhook';

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n > 0 ? n : fallback;
}

export const qorepayGateway: GatewayModule = {
  name: 'qorepay',
  label: 'QorePay',
  capabilities: QOREPAY_CAPABILITIES,
  variables: [
    'QOREPAY_API_URL',
    'QOREPAY_API_KEY',
    'QOREPAY_BRAND_ID',
    'QOREPAY_WEBHOOK_PUBLIC_KEY',
    'QOREPAY_TIMEOUT_MS',
    'QOREPAY_DUE_DAYS',
    'QOREPAY_SEND_INVOICE_ON_CHARGE_FAILURE',
  ],
  description:
    'QorePay: a billing template per subscription, charged by QorePay on the saved card; QorePay retries failed charges until due; RSA-signed webhooks.',

  configured(env: GatewayEnv): boolean {
    return Boolean(env.QOREPAY_API_KEY && env.QOREPAY_BRAND_ID && pemFromEnv(env.QOREPAY_WEBHOOK_PUBLIC_KEY));
  },

  createInputIssues: qorepayCreateIssues,

  adapter(env: GatewayEnv) {
    const client = new QorepayClient({
      baseUrl: env.QOREPAY_API_URL || DEFAULT_QOREPAY_URL,
      token: env.QOREPAY_API_KEY ?? '',
      timeoutMs: positiveInt(env.QOREPAY_TIMEOUT_MS, DEFAULT_TIMEOUT_MS),
    });
    return qorepayAdapter(client, {
      brandId: env.QOREPAY_BRAND_ID ?? '',
      dueDays: positiveInt(env.QOREPAY_DUE_DAYS, 7),
      sendInvoiceOnChargeFailure: env.QOREPAY_SEND_INVOICE_ON_CHARGE_FAILURE !== 'false',
    });
  },

  webhook(env: GatewayEnv) {
    return qorepayWebhook(env);
  },

  emulatorUrl(env: GatewayEnv) {
    return this.configured(env) ? loopbackEmulatorRoot(env.QOREPAY_API_URL, API_PREFIX) : undefined;
  },

  startEmulator(options) {
    return startQorepayEmulator(options);
  },
};

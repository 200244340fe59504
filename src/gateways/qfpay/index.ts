/**
 * QFPay (seeds 000–002): subscriptions over customers, products and payment tokens at QFPay,
 * billing orders the engine can charge again itself (a manual charge), notifications signed with
 * the app key. Behind the port like every gateway; its customers, products and tokens are its own
 * extension (`activities.ts`, and the API's customers and products routes).
 *
 * Its variables have defaults that point at its local emulator (`settings.ts`), so QFPay is
 * configured wherever its base URL is known: the worker and the API always pass their parsed
 * configuration's.
 */
import { loopbackEmulatorRoot, type GatewayEnv, type GatewayModule } from '../port';
import { QFPAY_CAPABILITIES, QFPAY_GATEWAY } from '../../domain/gateway-profile';
import { createQfpayActivities, qfpayAdapter } from './activities';
import { QfpayClient } from './client';
import { startQfpayEmulator } from './emulator/server';
import { QFPAY_EMULATOR_HOSTS, QFPAY_VARIABLE_NAMES, qfpaySettings, qfpayVariables } from './settings';
import { qfpayWebhook } from './webhook';
import { qfpayPlan } from './plan';
import { qfpayOrders } from './orders';

export const qfpayGateway: GatewayModule = {
  name: QFPAY_GATEWAY,
  label: 'QFPay',
  capabilities: QFPAY_CAPABILITIES,
  variables: QFPAY_VARIABLE_NAMES,
  description: 'QFPay (seeds 001 and 002): subscriptions, billing orders, manual charges, tokens',

  configured(env: GatewayEnv): boolean {
    return Boolean(env.QFPAY_BASE_URL);
  },

  // QFPay's subscriptions are created from its customers, products and tokens
  // (`POST /v1/subscriptions`), not from a plan: nothing of this input is taken.
  createInputIssues: () => [
    { path: ['plan'], message: 'QFPay bills products: create with POST /v1/subscriptions' },
  ],

  adapter(env, observer) {
    const settings = qfpaySettings(env);
    const client = new QfpayClient({
      baseUrl: settings.QFPAY_BASE_URL,
      appCode: settings.QFPAY_APP_CODE,
      appKey: settings.QFPAY_APP_KEY,
      signType: settings.QFPAY_SIGN_TYPE,
      timeoutMs: settings.QFPAY_TIMEOUT_MS,
      timeOffset: settings.QFPAY_TIME_OFFSET,
      ...(observer?.request ? { onRequest: (event) => observer.request?.(event) } : {}),
    });
    // The merchant's reads (the plan, the order list) ask QFPay directly: no workflow's activity.
    const offset = settings.QFPAY_TIME_OFFSET;
    const plan = (subscriptionId: string) => qfpayPlan(client, subscriptionId, offset);
    const orders = (subscriptionId: string) => qfpayOrders(client, subscriptionId, offset);
    return qfpayAdapter(
      createQfpayActivities({
        client,
        timeOffset: settings.QFPAY_TIME_OFFSET,
        ...(observer ? { observer } : {}),
      }),
      { plan, orders },
    );
  },

  webhook(env) {
    return qfpayWebhook(qfpaySettings(env));
  },

  // The emulator answers at the base URL itself (QFPay's paths and `/_emulator` side by side).
  emulatorUrl(env) {
    return loopbackEmulatorRoot(env.QFPAY_BASE_URL, '', QFPAY_EMULATOR_HOSTS);
  },

  async startEmulator({ port, host, notifyUrl, startMs }) {
    const settings = qfpaySettings({});
    const emulator = await startQfpayEmulator({
      port,
      ...(host === undefined ? {} : { host }),
      ...(notifyUrl === undefined ? {} : { notifyUrl }),
      ...(startMs === undefined ? {} : { startTime: startMs }),
      appCode: settings.QFPAY_APP_CODE,
      appKey: settings.QFPAY_APP_KEY,
    });
    return {
      url: emulator.url,
      close: () => emulator.close(),
      env: qfpayVariables({ ...settings, QFPAY_BASE_URL: emulator.url }),
    };
  },
};

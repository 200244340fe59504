/** Every activity the worker registers, built from configuration and injected dependencies. */
import type { Client } from '@temporalio/client';
import { parseList, type Config } from '../config';
import { MerchantEndpointSwitch } from '../events/merchant-endpoint';
import type { Logger } from '../logger';
import { activityLogFields, recordQfpayRequest } from '../observability/worker-metrics';
import { QfpayClient } from '../gateways/qfpay';
import { GATEWAY_MODULES } from '../gateways/registry';
import type { GatewayEnv } from '../gateways/port';
import { createEngineActivities } from './engine';
import { createGatewayActivities } from './gateways';
import { createMerchantEventActivities } from './merchant-events';
import { createQfpayActivities } from './qfpay';

export interface ActivityDeps {
  config: Config;
  client: Client;
  logger: Logger;
  /** Overrides for tests. */
  qfpayClient?: QfpayClient;
  /** Where the gateways behind the port read their variables (default `process.env`). */
  gatewayEnv?: GatewayEnv;
}

export function createQfpayClient(config: Config, logger?: Logger): QfpayClient {
  return new QfpayClient({
    baseUrl: config.QFPAY_BASE_URL,
    appCode: config.QFPAY_APP_CODE,
    appKey: config.QFPAY_APP_KEY,
    signType: config.QFPAY_SIGN_TYPE,
    timeoutMs: config.QFPAY_TIMEOUT_MS,
    timeOffset: config.QFPAY_TIME_OFFSET,
    onRequest: (event) => {
      recordQfpayRequest(event);
      const fields = { qfpay: event, ...activityLogFields() };
      if (event.outcome !== 'success') logger?.warn(fields, 'QFPay call failed');
      else logger?.debug(fields, 'QFPay call');
    },
  });
}

export function createActivities({ config, client, logger, qfpayClient, gatewayEnv }: ActivityDeps) {
  const url = config.MERCHANT_EVENTS_URL || undefined;
  const merchantEvents = createMerchantEventActivities({
    url,
    // Comma-separated: during a rotation every secret signs (one `v1,…` signature each).
    secrets: parseList(config.MERCHANT_EVENTS_SECRET),
    timeoutMs: config.MERCHANT_EVENTS_TIMEOUT_MS,
    ...(url ? { endpointSwitch: new MerchantEndpointSwitch(client, url, config.TEMPORAL_TASK_QUEUE) } : {}),
    logger,
  });
  return {
    ...createGatewayActivities({
      qfpay: createQfpayActivities({
        client: qfpayClient ?? createQfpayClient(config, logger),
        timeOffset: config.QFPAY_TIME_OFFSET,
      }),
      modules: GATEWAY_MODULES,
      env: gatewayEnv ?? process.env,
    }),
    ...createEngineActivities({ client, taskQueue: config.TEMPORAL_TASK_QUEUE }),
    ...merchantEvents,
  };
}

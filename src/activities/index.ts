/** Every activity the worker registers, built from configuration and injected dependencies. */
import type { Client } from '@temporalio/client';
import { parseList, type Config } from '../config';
import { MerchantEndpointSwitch } from '../events/merchant-endpoint';
import type { Logger } from '../logger';
import {
  activityLogFields,
  recordQfpayActivityFailure,
  recordQfpayRequest,
} from '../observability/worker-metrics';
import { QfpayClient } from '../gateways/qfpay/client';
import { createQfpayActivities } from '../gateways/qfpay/activities';
import { qfpayVariables } from '../gateways/qfpay/settings';
import { GATEWAY_MODULES, gatewayEmulatorUrls } from '../gateways/registry';
import { layeredEnv, type GatewayEnv, type GatewayObserver } from '../gateways/port';
import { createEngineActivities } from './engine';
import { createGatewayActivities } from './gateways';
import { createMerchantEventActivities } from './merchant-events';
import { createReconcilerActivities } from './reconciler';
import { createTestClockActivities } from './test-clocks';
import type { QfpayCreationActivities } from './contracts';

export interface ActivityDeps {
  config: Config;
  client: Client;
  logger: Logger;
  /** Where the gateways read their variables (default `process.env`); QFPay's come from `config`. */
  gatewayEnv?: GatewayEnv;
}

/** What the worker hears of every gateway call: its metrics, and a log line per call. */
export function workerObserver(logger?: Logger): GatewayObserver {
  return {
    request(event) {
      recordQfpayRequest(event);
      const fields = { qfpay: event, ...activityLogFields() };
      if (event.outcome !== 'success') logger?.warn(fields, 'QFPay call failed');
      else logger?.debug(fields, 'QFPay call');
    },
    failure: (failure) => recordQfpayActivityFailure(failure),
  };
}

export function createQfpayClient(config: Config, logger?: Logger): QfpayClient {
  const observer = workerObserver(logger);
  return new QfpayClient({
    baseUrl: config.QFPAY_BASE_URL,
    appCode: config.QFPAY_APP_CODE,
    appKey: config.QFPAY_APP_KEY,
    signType: config.QFPAY_SIGN_TYPE,
    timeoutMs: config.QFPAY_TIMEOUT_MS,
    timeOffset: config.QFPAY_TIME_OFFSET,
    onRequest: (event) => observer.request?.(event),
  });
}

export function createActivities({ config, client, logger, gatewayEnv }: ActivityDeps) {
  const url = config.MERCHANT_EVENTS_URL || undefined;
  const merchantEvents = createMerchantEventActivities({
    url,
    // Comma-separated: during a rotation every secret signs (one `v1,…` signature each).
    secrets: parseList(config.MERCHANT_EVENTS_SECRET),
    timeoutMs: config.MERCHANT_EVENTS_TIMEOUT_MS,
    ...(url ? { endpointSwitch: new MerchantEndpointSwitch(client, url, config.TEMPORAL_TASK_QUEUE) } : {}),
    logger,
  });
  const observer = workerObserver(logger);
  const env = layeredEnv(gatewayEnv ?? process.env, qfpayVariables(config));
  // QFPay's own creation (customers, products, tokens), beside the port.
  const { listSubscriptionIds, ensureCustomer, ensureProduct, findOrCreateSubscription } =
    createQfpayActivities({
      client: createQfpayClient(config, logger),
      timeOffset: config.QFPAY_TIME_OFFSET,
      observer,
    });
  const qfpayCreation: QfpayCreationActivities = {
    listSubscriptionIds,
    ensureCustomer,
    ensureProduct,
    findOrCreateSubscription,
  };
  return {
    ...createGatewayActivities({
      modules: GATEWAY_MODULES,
      env,
      observer,
    }),
    ...qfpayCreation,
    ...createEngineActivities({
      client,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      qfpayTimeOffset: config.QFPAY_TIME_OFFSET,
    }),
    ...createReconcilerActivities({ client }),
    // A test clock lives at every gateway's emulator: a world of its own at each.
    ...createTestClockActivities({ client, emulatorUrls: () => gatewayEmulatorUrls(env) }),
    ...merchantEvents,
  };
}

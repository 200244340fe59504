/**
 * The API integration tests' fixture: a Temporal dev server, a worker running the engine's
 * workflows and activities against the QFPay emulator, and the API app (driven in-process with
 * supertest). Started once per suite, stopped after it.
 */
import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Express } from 'express';
import { createActivities, createQfpayClient } from '../../src/activities';
import { buildApp } from '../../src/api/app';
import { loadConfig, type Config } from '../../src/config';
import type { GatewayEmulatorHandle, GatewayEnv } from '../../src/gateways/port';
import { GATEWAY_MODULES } from '../../src/gateways/registry';
import { createLogger, type Logger } from '../../src/logger';
import type { QfpayClient } from '../../src/gateways/qfpay/client';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { createTestWorker, startDevServer, uniqueTaskQueue } from './temporal';

export const API_KEY = 'integration-api-key';
export const APP_KEY = 'integration-app-key';
export const auth = { Authorization: `Bearer ${API_KEY}` };

export interface ApiEngine {
  env: TestWorkflowEnvironment;
  qfpayEmulator: QfpayEmulatorHandle;
  config: Config;
  qfpay: QfpayClient;
  app: Express;
  /** What `app` was built from: build another app with one thing changed. */
  appContext: Parameters<typeof buildApp>[0];
  logger: Logger;
  /** The emulators of the gateways behind the port (with `options.gateways`), by name. */
  gateways: Record<string, { url: string; env: GatewayEnv }>;
}

/**
 * Registers the suite's `before`/`after` hooks; the returned object is filled in by `before`, so
 * read it inside hooks and tests only.
 * @param name names the suite's task queue
 * @param options.gateways also run every gateway's emulator, and point the worker and the API at them
 */
export function useApiEngine(name: string, options: { gateways?: boolean } = {}): ApiEngine {
  const engine = {} as ApiEngine;
  let stopWorker: (() => Promise<void>) | undefined;
  const emulators: GatewayEmulatorHandle[] = [];
  before(async () => {
    engine.logger = createLogger(name, 'silent');
    engine.env = await startDevServer();
    engine.qfpayEmulator = await startQfpayEmulator({ appKey: APP_KEY });
    // QFPay's emulator is the one above (the config points at it); the others start here.
    const gatewayEnv: GatewayEnv = { QFPAY_BASE_URL: engine.qfpayEmulator.url };
    engine.gateways = {};
    for (const module of options.gateways ? GATEWAY_MODULES : []) {
      if (module.configured(gatewayEnv)) continue;
      const emulator = await module.startEmulator({ port: 0 });
      emulators.push(emulator);
      engine.gateways[module.name] = { url: emulator.url, env: emulator.env };
      Object.assign(gatewayEnv, emulator.env);
    }
    const taskQueue = uniqueTaskQueue(name);
    engine.config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      API_KEYS: API_KEY,
      // Tests poll the API as fast as they like; the limit itself is tested on its own.
      RATE_LIMIT_PER_MINUTE: '1000000',
      TEMPORAL_TASK_QUEUE: taskQueue,
      QFPAY_BASE_URL: engine.qfpayEmulator.url,
      QFPAY_APP_KEY: APP_KEY,
    });
    engine.qfpay = createQfpayClient(engine.config);
    const { worker } = await createTestWorker(engine.env, {
      taskQueue,
      activities: createActivities({
        config: engine.config,
        client: engine.env.client,
        logger: engine.logger,
        gatewayEnv,
      }),
    });
    const running = worker.run();
    stopWorker = async () => {
      worker.shutdown();
      await running;
    };
    engine.appContext = {
      config: engine.config,
      temporal: engine.env.client,
      qfpay: engine.qfpay,
      logger: engine.logger,
      gatewayEnv,
    };
    engine.app = buildApp(engine.appContext);
  });
  after(async () => {
    await stopWorker?.();
    await Promise.allSettled(emulators.map((e) => e.close()));
    await engine.qfpayEmulator?.close();
    await engine.env?.teardown();
  });
  return engine;
}

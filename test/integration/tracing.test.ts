/**
 * OpenTelemetry traces, every part real (dev server, worker, API over HTTP, the QFPay emulator):
 * the spans recorded by an in-memory exporter show that one trace runs from the QFPay webhook
 * request through the signal-with-start, the workflow, its activity and the activity's HTTP call
 * to QFPay, and another from `POST /v1/subscriptions` through the creation workflow down to QFPay.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
// Tracing starts before the modules that load node:http and Express.
import { exporter, tracing } from '../helpers/tracing-first';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, createQfpayClient } from '../../src/activities';
import { buildApp } from '../../src/api/app';
import { loadConfig, type Config } from '../../src/config';
import { WORKFLOWS_PATH } from '../../src/dev/workflow-bundle';
import { workflowSource } from '../../worker';
import { createLogger } from '../../src/logger';
import { tracesRequested } from '../../src/observability/tracing';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { subscriptionWorkflowId } from '../../src/workflows/definitions';
import { EmulatorTestClient } from '../helpers/emulator-client';
import { eventually } from '../helpers/stack';
import { startDevServer, testDataConverter, uniqueTaskQueue } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let emulator: QfpayEmulatorHandle;
let server: Server;
let worker: Worker;
let running: Promise<void>;
let apiUrl = '';
let config: Config;

before(async () => {
  env = await startDevServer();
  emulator = await startQfpayEmulator({ appCode: 'trace-app', appKey: 'trace-key' });
  config = loadConfig({
    QFPAY_BASE_URL: emulator.url,
    QFPAY_APP_CODE: 'trace-app',
    QFPAY_APP_KEY: 'trace-key',
    API_KEYS: 'trace-api-key',
    RATE_LIMIT_PER_MINUTE: '1000000',
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('trace'),
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
  });
  const logger = createLogger('trace', 'silent');
  // The API's and the activities' client carry the SDK's OpenTelemetry interceptors.
  const client = new Client({
    connection: env.connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: testDataConverter(),
    plugins: [tracing.plugin],
  });
  worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    // Bundled here, as worker.ts bundles when tracing: the plugin adds its workflow interceptors
    // to the bundle, and the workflow modules are preloaded (shared) all the same.
    ...workflowSource({ WORKFLOW_BUNDLE_PATH: undefined }),
    dataConverter: testDataConverter(),
    activities: createActivities({ config, client, logger }),
    plugins: [tracing.plugin],
  });
  running = worker.run();
  const app = buildApp({ config, temporal: client, qfpay: createQfpayClient(config, logger), logger });
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  emulator.setNotifyUrl(`${apiUrl}/webhooks/qfpay`);
});

after(async () => {
  emulator?.setNotifyUrl(undefined);
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  worker?.shutdown();
  await running;
  await emulator?.close();
  await env?.teardown();
  await tracing?.shutdown();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: 'Bearer trace-api-key', 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

function parentOf(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan | undefined {
  return spans.find((s) => s.spanContext().spanId === span.parentSpanId);
}

/** The span's ancestors, nearest first, as `name` (each checked to be in the same trace). */
function ancestry(span: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const names: string[] = [];
  for (let p = parentOf(span, spans); p; p = parentOf(p, spans)) {
    assert.equal(p.spanContext().traceId, span.spanContext().traceId);
    names.push(p.name);
  }
  return names;
}

/** The first span, in order, of each name in `chain`, each a descendant of the one before. */
function assertChain(leaf: ReadableSpan, spans: readonly ReadableSpan[], chain: RegExp[]): void {
  const names = [leaf.name, ...ancestry(leaf, spans)].reverse();
  let at = 0;
  for (const step of chain) {
    const found = names.slice(at).findIndex((n) => step.test(n));
    assert.ok(found >= 0, `${step} in ${names.join(' → ')}`);
    at += found + 1;
  }
}

/** A span of QFPay's API (the activity's HTTP client call) on `path`. */
function qfpayCall(spans: readonly ReadableSpan[], path: string, under: RegExp): ReadableSpan | undefined {
  return spans.find(
    (s) =>
      s.kind === 2 /* CLIENT */ &&
      String(s.attributes['url.full'] ?? s.attributes['http.url'] ?? '').includes(path) &&
      ancestry(s, spans).some((n) => under.test(n)),
  );
}

describe('traces (OpenTelemetry, in-memory exporter)', () => {
  it('are off unless the standard variables ask for them', () => {
    assert.equal(tracesRequested({}), false);
    assert.equal(tracesRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
    assert.equal(tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(
      tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
      false,
    );
    assert.equal(tracesRequested({ OTEL_TRACES_EXPORTER: 'none' }), false);
  });

  let customerId = '';
  let productId = '';
  let tokenId = '';

  it('leave the workflow modules preloaded when the worker bundles itself with the plugin', () => {
    // The plugin rewrites the worker's options; the bundler reads the preload from what it keeps.
    assert.deepEqual(worker.options.bundlerOptions?.preloadModules, [`${WORKFLOWS_PATH}/index.ts`]);
  });

  it('follow POST /v1/subscriptions through the creation workflow to QFPay', async () => {
    customerId = (await api('POST', '/v1/customers', { name: 'Trace', email: 'trace@example.com' })).body
      .customer_id;
    tokenId = await new EmulatorTestClient(emulator.url).createToken(customerId, '4000000000001091');
    productId = (
      await api('POST', '/v1/products', {
        name: 'Traced',
        amount: 1000,
        currency: 'HKD',
        interval: 'monthly',
        interval_count: 1,
      })
    ).body.product_id;
    const created = await api(
      'POST',
      '/v1/subscriptions',
      { customer_id: customerId, product_id: productId, token_id: tokenId },
      { 'idempotency-key': 'trace-1' },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const leaf = await eventually('the creation’s QFPay call traced', async () => {
      const spans = exporter.getFinishedSpans();
      return qfpayCall(spans, '/subscription/v1/create', /^RunActivity:findOrCreateSubscription$/);
    });
    assertChain(leaf, exporter.getFinishedSpans(), [
      /^POST/,
      /^StartWorkflow:createSubscriptionWorkflow$/,
      /^RunWorkflow:createSubscriptionWorkflow$/,
      /^StartActivity:findOrCreateSubscription$/,
      /^RunActivity:findOrCreateSubscription$/,
      /^POST/,
    ]);
    const spans = exporter.getFinishedSpans();
    let request: ReadableSpan | undefined;
    for (let p = parentOf(leaf, spans); p; p = parentOf(p, spans)) if (p.kind === 1 /* SERVER */) request = p;
    assert.equal(request?.attributes['http.target'] ?? request?.attributes['url.path'], '/v1/subscriptions');
  });

  it('follow a QFPay webhook through the signal-with-start, the workflow and its activity to QFPay', async () => {
    // A subscription made at QFPay directly: its first notification makes the engine adopt it.
    const qfpay = createQfpayClient(config);
    const made = await qfpay.createSubscription({
      customer_id: customerId,
      token_id: tokenId,
      products: [{ product_id: productId }],
    });
    const workflowId = subscriptionWorkflowId(made.subscription_id);
    await eventually('adopted', async () =>
      (await api('GET', `/v1/subscriptions/${made.subscription_id}`)).status === 200 ? true : undefined,
    );
    // The workflow's own span ends (and is exported) when the workflow does.
    const cancelled = await api('POST', `/v1/subscriptions/${made.subscription_id}/cancel`, {});
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    const leaf = await eventually(
      'the adoption’s QFPay call traced',
      async () => {
        const spans = exporter.getFinishedSpans();
        return spans.find(
          (s) =>
            s.kind === 2 /* CLIENT */ &&
            parentOf(s, spans)?.name === 'RunActivity:syncSubscription' &&
            ancestry(s, spans).includes('RunWorkflow:subscriptionWorkflow'),
        );
      },
      60_000,
    ).catch((err: unknown) => {
      const names = exporter
        .getFinishedSpans()
        .map((s) => `${s.name}<${parentOf(s, exporter.getFinishedSpans())?.name ?? '-'}`);
      throw new Error(`${String(err)}; spans: ${names.join(', ')}`);
    });
    assertChain(leaf, exporter.getFinishedSpans(), [
      /^POST/,
      /^SignalWithStartWorkflow:subscriptionWorkflow$/,
      /^RunWorkflow:subscriptionWorkflow$/,
      /^StartActivity:syncSubscription$/,
      /^RunActivity:syncSubscription$/,
      /^(GET|POST)/,
    ]);
    // Above the signal-with-start is the request to the engine's QFPay webhook, and the workflow is
    // the adopted subscription's. (In this one process the emulator's own spans lie above it.)
    const spans = exporter.getFinishedSpans();
    const path: ReadableSpan[] = [];
    for (let p = parentOf(leaf, spans); p; p = parentOf(p, spans)) path.push(p);
    const signal = path.findIndex((p) => p.name === 'SignalWithStartWorkflow:subscriptionWorkflow');
    const request = path.slice(signal + 1).find((p) => p.kind === 1 /* SERVER */);
    assert.equal(request?.attributes['http.target'] ?? request?.attributes['url.path'], '/webhooks/qfpay');
    const run = path.find((p) => p.name === 'RunWorkflow:subscriptionWorkflow');
    assert.ok(JSON.stringify(run?.attributes).includes(workflowId), JSON.stringify(run?.attributes));
  });
});

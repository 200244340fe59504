/**
 * Phase 3: subscriptions created per second through `POST /v1/subscriptions` with the emulator
 * behind: each request has its own Idempotency-Key, customer and card token (made beforehand,
 * outside the measurement), all on one monthly product. Then the same number through its floor:
 * what a creation would cost with no creation workflow and no API (lever 4 of the performance
 * work at its best).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { perItem, stackCpuPids, startCpuMeter, type CpuFigures } from '../cpu';
import { runAutocannon } from '../load';
import { perSecond, poolFigures, ratio, summarize, runPool, type PoolFigures } from '../stats';
import { BENCH_API_KEY, type BenchStack } from '../stack';
import { createEngineActivities } from '../../src/activities/engine';
import { createQfpayActivities } from '../../src/gateways/qfpay/activities';
import { engineDefaultPolicy, workflowOptions } from '../../src/api/context';
import { createQfpaySubscription } from '../../src/workflows/creation-steps';

/** A run of creations: how many were made, how fast, and what they cost. */
export interface CreationRun extends Omit<PoolFigures, 'ok'> {
  created: number;
  /**
   * CPU ms per created subscription by process, from the first creation until the worker is idle
   * again (the creations' subscription workflows included). The bench process holds the emulator.
   */
  cpuMsPerCreation: CpuFigures;
}

export interface CreationResult extends CreationRun {
  subscriptions: number;
  concurrency: number;
  /**
   * The emulator's own share: QFPay requests it answered while the creations ran, and its wall
   * time per created subscription (request received to response finished, summed), against the
   * mean creation latency.
   */
  emulator: { requests: number; msPerCreation: number; shareOfMeanLatency: number };
  /**
   * The same number of creations with no creation workflow and no API ({@link runCreationFloor}),
   * and the API's creations per second over theirs.
   */
  floor?: CreationRun & { throughputRatio: number };
}

/** Counts the emulator's requests and sums their wall time until `stop()`. */
function timeEmulator(server: Server): { stop(): { requests: number; ms: number } } {
  let requests = 0;
  let ms = 0;
  const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
    const t = performance.now();
    res.once('finish', () => {
      requests += 1;
      ms += performance.now() - t;
    });
  };
  server.prependListener('request', onRequest);
  return {
    stop() {
      server.off('request', onRequest);
      return { requests, ms };
    },
  };
}

/** Customers with a tokenised approved card, and one product, made at the emulator directly. */
async function prepare(
  stack: BenchStack,
  count: number,
): Promise<{ productId: string; pairs: Array<{ customerId: string; tokenId: string }> }> {
  const product = await stack.qfpay.createProduct({
    name: 'Bench monthly',
    type: 'recurring',
    txamt: 9900,
    txcurrcd: 'HKD',
    interval: 'monthly',
    interval_count: 1,
  });
  const pairs: Array<{ customerId: string; tokenId: string }> = new Array(count);
  const made = await runPool(count, 8, async (i) => {
    const customer = await stack.qfpay.createCustomer({
      name: `Bench customer ${i}`,
      email: `bench${i}@example.com`,
    });
    const res = await fetch(`${stack.qfpayEmulator.url}/_emulator/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer_id: customer.customer_id, card_number: '4000000000001091' }),
    });
    if (!res.ok) throw new Error(`token: HTTP ${res.status}`);
    const token = (await res.json()) as { token_id: string };
    pairs[i] = { customerId: customer.customer_id, tokenId: token.token_id };
  });
  if (made.errors.size > 0) throw new Error(`preparing creation: ${[...made.errors.keys()].join('; ')}`);
  return { productId: product.product_id, pairs };
}

/**
 * `count` creations at `concurrency`, on customers of their own, with no creation workflow and no
 * API: the bench process runs the creation's own steps ({@link createQfpaySubscription}, as the
 * creation workflow does) with the engine's activity functions (QFPay's list and find-or-create,
 * then the hand-over's signal-with-start of the subscription's workflow). What is left is what
 * one workflow per creation (Update-with-Start, lever 4) would still pay, less that workflow's own
 * activity tasks: QFPay's calls and the subscription's start and adoption. (The bench's emulator sends no notifications, through the API or here.)
 */
export async function runCreationFloor(
  stack: BenchStack,
  opts: { count: number; concurrency: number },
): Promise<CreationRun> {
  const { productId, pairs } = await prepare(stack, opts.count);
  const { config, client } = stack;
  const qfpay = createQfpayActivities({ client: stack.qfpay, timeOffset: config.QFPAY_TIME_OFFSET });
  const engine = createEngineActivities({ client, taskQueue: config.TEMPORAL_TASK_QUEUE });
  const policy = engineDefaultPolicy(config);
  const options = workflowOptions(config);
  const cpu = startCpuMeter(stackCpuPids(stack));
  const run = await runPool(opts.count, opts.concurrency, async (i) => {
    const { customerId, tokenId } = pairs[i]!;
    const { handover } = await createQfpaySubscription(
      { customer: { customerId }, product: { productId }, tokenId, policy, options },
      {
        qfpay,
        clockNow: () => Promise.reject(new Error('the bench makes no creation on a test clock')),
        handOver: (...args) => engine.handOverSubscription(...args),
      },
    );
    if (handover !== 'handed_over') throw new Error(`hand-over: ${handover}`);
  });
  await stack.worker.idle(30_000);
  const cpuMs = cpu();
  const { ok: created, ...figures } = poolFigures(run);
  return { created, ...figures, cpuMsPerCreation: perItem(cpuMs, Math.max(created, 1)) };
}

/** Creates `count` subscriptions through the API at `concurrency`, then through their floor. */
export async function runCreation(
  stack: BenchStack,
  opts: { count: number; concurrency: number },
): Promise<CreationResult> {
  const { productId, pairs } = await prepare(stack, opts.count);
  const runTag = Date.now().toString(36);
  let next = 0;
  const cpu = startCpuMeter(stackCpuPids(stack));
  const emulatorTimer = timeEmulator(stack.qfpayEmulator.server);
  const { result, latencies, durationMs } = await runAutocannon({
    url: `${stack.apiUrl}/v1/subscriptions`,
    connections: opts.concurrency,
    amount: opts.count,
    timeout: 60,
    requests: [
      {
        setupRequest: (request) => {
          const i = next++ % pairs.length;
          const pair = pairs[i]!;
          return {
            ...request,
            method: 'POST',
            path: '/v1/subscriptions',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${BENCH_API_KEY}`,
              'idempotency-key': `bench-${runTag}-${i}`,
            },
            body: JSON.stringify({
              customer_id: pair.customerId,
              product_id: productId,
              token_id: pair.tokenId,
            }),
          };
        },
      },
    ],
  });
  const emulator = emulatorTimer.stop();
  const latency = summarize(latencies);
  await stack.worker.idle(30_000);
  const cpuMs = cpu();
  const errorKinds: Record<string, number> = {};
  let created = 0;
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
    if (code === '201') created = stat.count ?? 0;
    else if (stat.count) errorKinds[`HTTP ${code}`] = stat.count;
  }
  if (result.errors) errorKinds['connection errors or timeouts'] = result.errors;
  const floor = await runCreationFloor(stack, opts);
  const throughput = perSecond(created, durationMs);
  return {
    subscriptions: opts.count,
    concurrency: opts.concurrency,
    created,
    errors: Object.values(errorKinds).reduce((a, b) => a + b, 0),
    errorKinds,
    durationMs: Math.round(durationMs),
    throughput,
    latencyMs: latency,
    cpuMsPerCreation: perItem(cpuMs, Math.max(created, 1)),
    floor: { ...floor, throughputRatio: ratio(throughput, floor.throughput) },
    emulator: {
      requests: emulator.requests,
      msPerCreation: Math.round((emulator.ms / Math.max(created, 1)) * 10) / 10,
      shareOfMeanLatency: ratio(emulator.ms / Math.max(created, 1), latency.mean),
    },
  };
}

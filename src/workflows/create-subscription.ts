/**
 * The durable, idempotent creations (architecture, decision 2): a subscription, and a customer or
 * a product created on their own with an Idempotency-Key. Each workflow id is derived from the
 * merchant's idempotency key, so a retried request finds this execution and its result; a crash
 * mid-way resumes where it stopped; and each QFPay create activity looks for what an earlier
 * attempt may have made before creating another.
 */
import { patched, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type {
  EngineActivities,
  GatewayActivities,
  QfpayCreationActivities,
  TestClockActivities,
} from '../activities/contracts';
import {
  subscriptionWorkflowId,
  type CreateCustomerInput,
  type CreateGatewaySubscriptionInput,
  type CreateProductInput,
  type CreateSubscriptionInput,
  type CreateSubscriptionResult,
} from './definitions';
import { createQfpaySubscription, handOverArgs, type HandOverArgs } from './creation-steps';

const qfpay = proxyActivities<QfpayCreationActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
const gateways = proxyActivities<GatewayActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
const clocks = proxyActivities<Pick<TestClockActivities, 'readTestClockWorld'>>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});
/** The patch under which a clocked creation reads its clock's time and hands it over. */
const CREATION_CLOCK_TIME_PATCH = 'test-clock-creation-time';

const engine = proxyActivities<EngineActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** The hand-over, named in the Web UI by the subscription it hands over. */
function handOver(...args: HandOverArgs): Promise<'handed_over' | 'ended'> {
  return engine.handOverSubscription.executeWithOptions(
    { summary: `hand ${args[0].subscriptionId} to its workflow` },
    args,
  );
}

export async function createSubscriptionWorkflow(
  input: CreateSubscriptionInput,
): Promise<CreateSubscriptionResult> {
  const { customerId, productId, created, handover } = await createQfpaySubscription(input, {
    qfpay,
    // (A clocked creation recorded before this read replays without it.)
    clockNow: async (testClock) =>
      patched(CREATION_CLOCK_TIME_PATCH) ? (await clocks.readTestClockWorld(testClock)).nowMs : undefined,
    handOver,
  });
  // The Web UI names the subscription this creation made.
  setCurrentDetails(
    `Created subscription \`${created.subscriptionId}\`${created.reusedExisting ? ' (found from an earlier attempt)' : ''}: ` +
      `its workflow is \`${subscriptionWorkflowId(created.subscriptionId)}\`` +
      (handover === 'ended' ? ', which QFPay’s notifications had started and which had already ended.' : '.'),
  );
  return {
    subscriptionId: created.subscriptionId,
    customerId,
    productId,
    state: created.state,
    workflowId: subscriptionWorkflowId(created.subscriptionId),
    reusedExisting: created.reusedExisting || workflowInfo().attempt > 1,
  };
}

/** Creates a customer at QFPay once per Idempotency-Key (`POST /v1/customers`). */
export async function createCustomerWorkflow(input: CreateCustomerInput): Promise<{ customerId: string }> {
  return { customerId: await qfpay.ensureCustomer(input) };
}

/**
 * Creates a recurring product at QFPay once per Idempotency-Key (`POST /v1/products`); an
 * identical product QFPay already has is reused, as in a subscription's creation.
 */
export async function createProductWorkflow(input: CreateProductInput): Promise<{ productId: string }> {
  return { productId: await qfpay.ensureProduct(input) };
}

/**
 * A subscription's creation on a gateway behind the port (QorePay, the card gateway, …): one
 * create by the merchant's reference (a retry finds what an earlier attempt made), then the same
 * handover as QFPay's creation, with the gateway's profile in the workflow's input.
 */
export async function createGatewaySubscriptionWorkflow(
  input: CreateGatewaySubscriptionInput,
): Promise<CreateSubscriptionResult> {
  const { gateway, create } = input;
  // On a test clock, the gateway makes it in the clock's world at its emulator.
  const testClock = input.options?.testClock;
  const created = await gateways.createOnGateway.executeWithOptions(
    { summary: `create on ${gateway.name}` },
    [{ gateway: gateway.name, create: testClock === undefined ? create : { ...create, testClock } }],
  );
  // And at the clock's time, which its workflow is told. (No patch: a gateway's creation on a
  // clock is new, so no history recorded before has one to replay.)
  const clockNow = testClock === undefined ? undefined : (await clocks.readTestClockWorld(testClock)).nowMs;
  const totalBillingCycles = create.plan.totalCycles;
  const handover = await handOver(
    ...handOverArgs(
      input,
      {
        kind: 'created',
        subscriptionId: created.subscriptionId,
        customerId: create.customer.id,
        // The gateway keeps the customer's payment method when the merchant names none.
        tokenId: create.paymentMethod?.token ?? GATEWAY_METHOD_ON_FILE,
        productIds: [],
        totalBillingCycles,
        state: created.state === 'UNKNOWN' ? undefined : created.state,
        at: clockNow ?? created.at,
        source: 'api',
      },
      {
        amount: create.plan.amount,
        currency: create.plan.currency,
        interval: create.plan.interval.unit,
        intervalCount: create.plan.interval.count,
      },
      gateway,
      clockNow,
    ),
  );
  setCurrentDetails(
    `Created subscription \`${created.subscriptionId}\` on ${gateway.name}${created.reusedExisting ? ' (found from an earlier attempt)' : ''}: ` +
      `its workflow is \`${subscriptionWorkflowId(created.subscriptionId)}\`` +
      (handover === 'ended' ? ', which had already ended.' : '.'),
  );
  return {
    subscriptionId: created.subscriptionId,
    customerId: create.customer.id,
    productId: null,
    state: created.state,
    workflowId: subscriptionWorkflowId(created.subscriptionId),
    reusedExisting: created.reusedExisting || workflowInfo().attempt > 1,
  };
}

/** The token a subscription records when the gateway keeps the customer's payment method. */
export const GATEWAY_METHOD_ON_FILE = 'on_file';

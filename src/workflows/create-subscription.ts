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
  type Fact,
} from './definitions';
import type { GatewayProfile } from '../domain/gateway-profile';
import type { SubscriptionStartFacts } from './summaries';

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

/**
 * Hands a created subscription to its own long-running workflow (started here, or already started
 * by a notification that overtook this creation), with the merchant's policy and options.
 */
function handOver(
  input: Pick<CreateSubscriptionInput, 'policy' | 'options' | 'metadata'>,
  fact: Extract<Fact, { kind: 'created' }>,
  price: SubscriptionStartFacts['price'],
  gateway?: GatewayProfile,
  clockNow?: number,
): Promise<'handed_over' | 'ended'> {
  return engine.handOverSubscription.executeWithOptions(
    { summary: `hand ${fact.subscriptionId} to its workflow` },
    [
      {
        subscriptionId: fact.subscriptionId,
        origin: 'created',
        policy: input.policy,
        options: input.options,
        ...(gateway ? { gateway } : {}),
      },
      {
        fact,
        policy: input.policy,
        options: input.options,
        ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
        ...(clockNow === undefined ? {} : { clockNow }),
      },
      price,
    ],
  );
}

export async function createSubscriptionWorkflow(
  input: CreateSubscriptionInput,
): Promise<CreateSubscriptionResult> {
  // On a test clock, what is made here lives in the clock's world at the emulator.
  const testClock = input.options?.testClock;
  const onClock = testClock === undefined ? {} : { testClock };
  const customerId =
    'customerId' in input.customer
      ? input.customer.customerId
      : await qfpay.ensureCustomer({ ...input.customer.create, ...onClock });
  const productId =
    'productId' in input.product
      ? input.product.productId
      : await qfpay.ensureProduct({ ...input.product.create, ...onClock });
  const totalBillingCycles = input.totalBillingCycles ?? null;
  // What already exists before this creation begins can never be its result (a retried create
  // looks for the one an earlier attempt made, and must not take somebody else's).
  const existingIds = await qfpay.listSubscriptionIds({ customerId, tokenId: input.tokenId });
  const created = await qfpay.findOrCreateSubscription({
    existingIds,
    customerId,
    tokenId: input.tokenId,
    productId,
    quantity: input.quantity ?? 1,
    totalBillingCycles,
    startTime: input.startTime,
  });

  const price = 'create' in input.product ? input.product.create : undefined;
  // On a test clock, the subscription is made at the clock's time: its workflow is told so.
  // (A clocked creation recorded before this read replays without it.)
  const clockNow =
    testClock !== undefined && patched(CREATION_CLOCK_TIME_PATCH)
      ? (await clocks.readTestClockWorld(testClock)).nowMs
      : undefined;
  const handover = await handOver(
    input,
    {
      kind: 'created',
      subscriptionId: created.subscriptionId,
      customerId,
      tokenId: input.tokenId,
      productIds: [productId],
      totalBillingCycles,
      startTime: input.startTime,
      state: created.state === 'UNKNOWN' ? undefined : created.state,
      at: clockNow ?? created.at,
      source: 'api',
    },
    price && {
      amount: price.amount,
      currency: price.currency,
      interval: price.interval,
      intervalCount: price.intervalCount,
    },
    undefined,
    clockNow,
  );
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

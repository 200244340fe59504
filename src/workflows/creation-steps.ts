/**
 * A QFPay subscription's creation, step by step, over the calls it makes: the creation workflow
 * runs it with its activity proxies, and the bench's floor of creation with the same activity
 * functions called directly. The order of the calls is the workflow's history: changing it needs
 * a patch (see `create-subscription.ts`).
 */
import type { EngineActivities, QfpayCreationActivities } from '../activities/contracts';
import type { GatewayProfile } from '../domain/gateway-profile';
import type { CreateSubscriptionInput, Fact } from './definitions';
import type { SubscriptionStartFacts } from './summaries';

/** What the hand-over to a subscription's own workflow is given. */
export type HandOverArgs = Parameters<EngineActivities['handOverSubscription']>;

/**
 * The hand-over's arguments: a created subscription to its own long-running workflow (started by
 * it, or already started by a notification that overtook the creation), with the merchant's
 * policy and options.
 */
export function handOverArgs(
  input: Pick<CreateSubscriptionInput, 'policy' | 'options' | 'metadata'>,
  fact: Extract<Fact, { kind: 'created' }>,
  price: SubscriptionStartFacts['price'],
  gateway?: GatewayProfile,
  clockNow?: number,
): HandOverArgs {
  return [
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
  ];
}

/** The calls a QFPay creation makes, in the order {@link createQfpaySubscription} makes them. */
export interface QfpayCreationCalls {
  qfpay: QfpayCreationActivities;
  /** The test clock's time once QFPay has made the subscription (undefined: nothing to tell). */
  clockNow(testClock: string): Promise<number | undefined>;
  handOver(...args: HandOverArgs): Promise<'handed_over' | 'ended'>;
}

export interface QfpayCreation {
  customerId: string;
  productId: string;
  created: Awaited<ReturnType<QfpayCreationActivities['findOrCreateSubscription']>>;
  handover: 'handed_over' | 'ended';
}

/**
 * Makes the customer and the product when asked to, then the subscription at QFPay (finding the
 * one an earlier attempt made), and hands it over to its own workflow.
 */
export async function createQfpaySubscription(
  input: CreateSubscriptionInput,
  calls: QfpayCreationCalls,
): Promise<QfpayCreation> {
  const { qfpay } = calls;
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
  const clockNow = testClock === undefined ? undefined : await calls.clockNow(testClock);
  const handover = await calls.handOver(
    ...handOverArgs(
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
    ),
  );
  return { customerId, productId, created, handover };
}

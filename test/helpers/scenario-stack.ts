/**
 * The stack the test-clock scenario runs on in its tests: the whole engine with a merchant
 * receiver, QFPay's automatic retries off (recovery is the engine's own dunning), and a
 * {@link StackClient} on it, as `npm run demo` has on `npm start`.
 */
import { after, before } from 'node:test';
import { StackClient } from '../../src/dev/stack-client';
import { startMerchantReceiver, type MerchantReceiver } from './merchant-receiver';
import { API_KEY, startStack, type Stack } from './stack';

/** One charge at the emulator, as its control API lists it. */
export interface ChargeRow {
  at: string;
  sequence_no: number;
  trigger: 'auto' | 'manual';
  approved: boolean;
  respcd?: string;
}

export interface ScenarioStack {
  readonly stack: Stack;
  readonly receiver: MerchantReceiver;
  readonly client: StackClient;
  /** A subscription's charges at the emulator, in a test clock's world when `testClock` names one. */
  charges(subscriptionId: string, testClock?: string): Promise<ChargeRow[]>;
}

/** Starts the stack before the file's tests and stops it after them. */
export function useScenarioStack(): ScenarioStack {
  let stack: Stack | undefined;
  let receiver: MerchantReceiver | undefined;
  let client: StackClient | undefined;
  before(async () => {
    receiver = await startMerchantReceiver();
    stack = await startStack({ retryFractions: [] }, receiver.env);
    client = new StackClient({
      apiUrl: stack.apiUrl,
      apiKey: API_KEY,
      emulatorUrl: stack.qfpayEmulator.url,
      webUiUrl: '',
      namespace: stack.config.TEMPORAL_NAMESPACE,
    });
  });
  after(async () => {
    await stack?.close();
    await receiver?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the scenario stack is not started (use it inside a test)');
    return value;
  };
  return {
    get stack() {
      return started(stack);
    },
    get receiver() {
      return started(receiver);
    },
    get client() {
      return started(client);
    },
    async charges(subscriptionId, testClock) {
      const listed = await started(client).emulator<{ data: ChargeRow[] }>(
        'GET',
        `/_emulator/charges?subscription_id=${subscriptionId}`,
        undefined,
        testClock,
      );
      return listed.data;
    },
  };
}

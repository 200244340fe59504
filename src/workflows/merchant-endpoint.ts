/**
 * Runs while the merchant's webhook endpoint is turned off (it answered `410 Gone`; see
 * src/events/merchant-endpoint.ts). Its summary says why; it ends when an operator turns the
 * endpoint back on.
 */
import { condition, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { enableMerchantEndpointSignal, type MerchantEndpointOff } from './definitions';

export async function merchantEndpointWorkflow(off: MerchantEndpointOff): Promise<{ enabled: true }> {
  let enabled = false;
  setHandler(enableMerchantEndpointSignal, () => {
    enabled = true;
  });
  setCurrentDetails(
    `**off** since ${off.at}: ${off.endpoint} answered HTTP ${off.status} to ${off.eventId}. ` +
      'Turn it back on with POST /v1/merchant-endpoint/enable.',
  );
  await condition(() => enabled);
  return { enabled: true };
}

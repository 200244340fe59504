/**
 * Delivers one merchant event. A child workflow per event (abandoned by its parent) so that a
 * merchant endpoint that is down for days never blocks the subscription's lifecycle, and the
 * delivery survives the parent continuing-as-new or ending.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { MerchantEventActivities } from '../activities/contracts';
import type { MerchantEvent } from './definitions';

const { deliverMerchantEvent } = proxyActivities<MerchantEventActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '3 days',
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '1h',
    nonRetryableErrorTypes: ['MerchantEndpointRejected'],
  },
});

export async function merchantEventDeliveryWorkflow(event: MerchantEvent): Promise<{ delivered: boolean }> {
  const { delivered } = await deliverMerchantEvent(event);
  return { delivered };
}

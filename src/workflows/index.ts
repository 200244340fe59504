/** The workflow bundle's entry: every workflow the worker runs. */
export { subscriptionWorkflow } from './subscription';
export {
  createCustomerWorkflow,
  createGatewaySubscriptionWorkflow,
  createProductWorkflow,
  createSubscriptionWorkflow,
} from './create-subscription';
export { customerTokensWorkflow } from './customer-tokens';
export { metadataRecordWorkflow } from './metadata-record';
export { merchantEventDeliveryWorkflow } from './merchant-event-delivery';
export { merchantEndpointWorkflow } from './merchant-endpoint';
export { reconcilerWorkflow } from './reconciler';
export { testClockWorkflow } from './test-clock';

/** A creation's input for a gateway behind the port, as the gateways' own tests build it. */
import type { GatewayCreateInput } from '../../src/gateways/port';

/**
 * An unbounded monthly plan for `customerId` under `reference`; `plan` changes any of its fields.
 */
export function monthlyCreation(
  reference: string,
  customerId: string,
  plan: Partial<GatewayCreateInput['plan']> = {},
): GatewayCreateInput {
  return {
    reference,
    customer: { id: customerId },
    plan: {
      name: 'Gold',
      amount: 1500,
      currency: 'MYR',
      interval: { unit: 'month', count: 1 },
      totalCycles: null,
      ...plan,
    },
  };
}

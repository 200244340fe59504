/**
 * Every gateway the engine knows. Adding one is its folder under `src/gateways/` and one line in
 * {@link GATEWAY_MODULES}. QFPay is the engine's first gateway; its folder is
 * `src/gateways/qfpay/` (client, schemas, signing, emulator), but it keeps its own activities
 * (`src/activities/qfpay.ts`) and creation with customers, products and tokens, so it is listed
 * here by its profile.
 */
import type { GatewayModule, GatewayProfile } from './port';
import { madfintechGateway } from './madfintech';
import { QFPAY_GATEWAY, QFPAY_PROFILE } from '../domain/gateway-profile';
import { qorepayGateway } from './qorepay';

/** The gateways behind the port, one line each. */
export const GATEWAY_MODULES: readonly GatewayModule[] = [qorepayGateway, madfintechGateway];

/** A gateway module by name (QFPay has none: see the module comment). */
export function gatewayModule(name: string): GatewayModule | undefined {
  return GATEWAY_MODULES.find((m) => m.name === name);
}

/** Every gateway's name, QFPay first. */
export function gatewayNames(): string[] {
  return [QFPAY_GATEWAY, ...GATEWAY_MODULES.map((m) => m.name)];
}

/** The profile a subscription's workflow carries, or undefined for a name the engine does not know. */
export function gatewayProfile(name: string): GatewayProfile | undefined {
  if (name === QFPAY_GATEWAY) return QFPAY_PROFILE;
  const module = gatewayModule(name);
  return module && { name: module.name, label: module.label, capabilities: module.capabilities };
}

/** Every gateway with its description, for the docs and `GET /v1/gateways`. */
export function gatewayTable(): Array<GatewayProfile & { description: string }> {
  return [
    {
      name: QFPAY_PROFILE.name,
      capabilities: QFPAY_PROFILE.capabilities,
      description: 'QFPay (seeds 001 and 002): subscriptions, billing orders, manual charges, tokens',
    },
    ...GATEWAY_MODULES.map((m) => ({
      name: m.name,
      capabilities: m.capabilities,
      description: m.description,
    })),
  ];
}

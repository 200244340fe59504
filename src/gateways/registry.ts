/**
 * Every gateway the engine knows. Adding one is its folder under `src/gateways/` and one line in
 * {@link GATEWAY_MODULES}.
 */
import type { GatewayEnv, GatewayModule, GatewayProfile } from './port';
import { madfintechGateway } from './madfintech';
import { qfpayGateway } from './qfpay';
import { qorepayGateway } from './qorepay';

/** The gateways, one line each; QFPay, the engine's first, first. */
export const GATEWAY_MODULES: readonly GatewayModule[] = [qfpayGateway, qorepayGateway, madfintechGateway];

/** A gateway module by name. */
export function gatewayModule(name: string): GatewayModule | undefined {
  return GATEWAY_MODULES.find((m) => m.name === name);
}

/** Every gateway's name, QFPay first. */
export function gatewayNames(): string[] {
  return GATEWAY_MODULES.map((m) => m.name);
}

/** A module's profile: what a subscription's workflow carries. */
export function profileOf(module: GatewayModule): GatewayProfile {
  return { name: module.name, label: module.label, capabilities: module.capabilities };
}

/** The profile a subscription's workflow carries, or undefined for a name the engine does not know. */
export function gatewayProfile(name: string): GatewayProfile | undefined {
  const module = gatewayModule(name);
  return module && profileOf(module);
}

/** Every gateway with its description, for the docs and `GET /v1/gateways`. */
export function gatewayTable(): Array<GatewayProfile & { description: string }> {
  return GATEWAY_MODULES.map((m) => ({
    name: m.name,
    capabilities: m.capabilities,
    description: m.description,
  }));
}

/**
 * The root URLs of the configured gateways' emulators, QFPay's first: where a test clock keeps its
 * worlds. A gateway configured for real has none (and takes no subscription on a clock).
 */
export function gatewayEmulatorUrls(env: GatewayEnv): string[] {
  return GATEWAY_MODULES.flatMap((m) => {
    const url = m.configured(env) ? m.emulatorUrl(env) : undefined;
    return url === undefined ? [] : [url];
  });
}

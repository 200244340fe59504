/**
 * The gateways as the API's routes reach them: by the path's name (`/webhooks/:gateway`,
 * `/v1/gateways/:gateway/…`) or by a subscription's engine id, each answering 404 for a gateway
 * the engine does not know and 503 for one this API has not the variables of.
 */
import type { GatewayAdapter, GatewayModule } from '../../gateways/port';
import { splitSubscriptionId } from '../../domain/gateway-profile';
import { gatewayModule } from '../../gateways/registry';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { GatewayParamsSchema } from '../schemas';
import { parseInput } from '../validate';

function configured(ctx: ApiContext, module: GatewayModule): GatewayModule {
  if (!module.configured(ctx.gatewayEnv)) throw ApiError.gatewayNotConfigured(module.name);
  return module;
}

/** The gateway the path names (`params`: the route's path parameters, `gateway` among them). */
export function configuredModule(ctx: ApiContext, params: unknown): GatewayModule {
  const { gateway } = parseInput(GatewayParamsSchema, params, 'path');
  const module = gatewayModule(gateway);
  if (!module) throw ApiError.notFound(`no gateway named ${gateway}`);
  return configured(ctx, module);
}

const adapters = new WeakMap<ApiContext, Map<string, GatewayAdapter>>();

/** A subscription's gateway, its adapter (one per gateway and API) and the gateway's own id. */
export function subscriptionGateway(
  ctx: ApiContext,
  engineId: string,
): { module: GatewayModule; adapter: GatewayAdapter; gatewayId: string } {
  const { gateway, gatewayId } = splitSubscriptionId(engineId);
  const found = gatewayModule(gateway);
  if (!found) throw ApiError.notFound(`subscription ${engineId} not found: no gateway named ${gateway}`);
  const module = configured(ctx, found);
  let built = adapters.get(ctx);
  if (!built) adapters.set(ctx, (built = new Map()));
  let adapter = built.get(module.name);
  if (!adapter) built.set(module.name, (adapter = module.adapter(ctx.gatewayEnv)));
  return { module, adapter, gatewayId };
}

/**
 * The worker's side of the gateway port. The workflows call one set of activities (the names
 * QFPay's had before the port, so every running workflow replays unchanged); each call is routed
 * by the subscription's engine id to its gateway's adapter (a bare `sub_…` id is QFPay's,
 * `<gateway>:<id>` another's), built from the gateway's module, with its answers brought back
 * under the engine id. A gateway's refusal (`GatewayError`, not retryable) becomes a non-retryable failure, so the
 * workflow's reducers treat it as they treat QFPay's refusals; anything else is retried.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../domain/failure-types';
import {
  GatewayError,
  type GatewayAdapter,
  type GatewayEnv,
  type GatewayModule,
  type GatewayObserver,
} from '../gateways/port';
import { engineSubscriptionId, splitSubscriptionId } from '../domain/gateway-profile';
import type { GatewayActivities, SubscriptionActivities, SyncResult } from './contracts';

export interface GatewayActivityDeps {
  modules: readonly GatewayModule[];
  /** Where each gateway reads its own variables (`process.env` in the worker). */
  env: GatewayEnv;
  /** Hears each adapter's calls (the worker's metrics and logs). */
  observer?: GatewayObserver;
}

/** A gateway's failure as Temporal should see it. */
function toFailure(gateway: string, err: unknown): unknown {
  if (!(err instanceof GatewayError)) return err;
  return ApplicationFailure.create({
    message: `${gateway}: ${err.message}`,
    type: (err.retryable ? 'GatewayUnavailable' : 'GatewayRefused') satisfies FailureType,
    nonRetryable: !err.retryable,
    details: err.status === undefined ? [] : [{ status: err.status }],
  });
}

export function createGatewayActivities({
  modules,
  env,
  observer,
}: GatewayActivityDeps): SubscriptionActivities & GatewayActivities {
  // Each gateway's adapter is built from its module and the environment, on first use.
  const adapters = new Map<string, GatewayAdapter>();
  function adapterOf(gateway: string): GatewayAdapter {
    let adapter = adapters.get(gateway);
    if (!adapter) {
      const module = modules.find((m) => m.name === gateway);
      if (!module)
        throw ApplicationFailure.nonRetryable(
          `no gateway named ${gateway}`,
          'UnknownGateway' satisfies FailureType,
        );
      if (!module.configured(env))
        throw ApplicationFailure.create({
          message: `gateway ${gateway} is not configured in this worker`,
          type: 'GatewayNotConfigured' satisfies FailureType,
        });
      adapter = module.adapter(env, observer);
      adapters.set(gateway, adapter);
    }
    return adapter;
  }

  /** Runs `call` on the gateway of `engineId`, with the gateway's own id. */
  async function onGateway<T>(
    engineId: string,
    call: (adapter: GatewayAdapter, gatewayId: string) => Promise<T>,
  ): Promise<T> {
    const { gateway, gatewayId } = splitSubscriptionId(engineId);
    const adapter = adapterOf(gateway);
    try {
      return await call(adapter, gatewayId);
    } catch (err) {
      throw toFailure(gateway, err);
    }
  }

  function lacks(gateway: string, what: string): never {
    throw ApplicationFailure.nonRetryable(
      `${gateway} has no ${what}`,
      'GatewayCapability' satisfies FailureType,
    );
  }

  return {
    async syncSubscription(subscriptionId, options) {
      const result = await onGateway(subscriptionId, (a, id) => a.sync(id, options));
      return result.found
        ? ({ found: true, fact: { ...result.fact, subscriptionId } } satisfies SyncResult)
        : { found: false, subscriptionId, at: result.at };
    },
    async cancelSubscription(subscriptionId) {
      return onGateway(subscriptionId, (a, id) => a.cancel(id));
    },
    async updateSubscription(input) {
      return onGateway(input.subscriptionId, (a, id) =>
        !a.update
          ? lacks(a.name, 'subscription update')
          : input.price && !a.capabilities.changePrice
            ? lacks(a.name, 'price change')
            : a.update({ ...input, subscriptionId: id }),
      );
    },
    async chargeOrder(input) {
      return onGateway(input.subscriptionId, (a, id) =>
        a.charge ? a.charge({ ...input, subscriptionId: id }) : lacks(a.name, 'manual charge'),
      );
    },
    async confirmCharge(input) {
      return onGateway(input.subscriptionId, (a, id) =>
        a.confirmCharge ? a.confirmCharge({ ...input, subscriptionId: id }) : lacks(a.name, 'manual charge'),
      );
    },
    async createOnGateway({ gateway, create }) {
      const adapter = adapterOf(gateway);
      try {
        const created = await adapter.create(create);
        return { ...created, subscriptionId: engineSubscriptionId(gateway, created.subscriptionId) };
      } catch (err) {
        throw toFailure(gateway, err);
      }
    },
    async upcomingBilling({ subscriptionId }) {
      return onGateway(subscriptionId, async (a, id) => {
        const plan = a.plan ? await a.plan(id) : undefined;
        return plan ? { amount: plan.amount, currency: plan.currency } : { amount: null, currency: null };
      });
    },
    async setPausedAtGateway({ subscriptionId, paused }) {
      return onGateway(subscriptionId, (a, id) =>
        a.setPaused ? a.setPaused(id, paused) : lacks(a.name, 'pause'),
      );
    },
  };
}

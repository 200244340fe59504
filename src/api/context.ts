/**
 * What every route of the API is built from: configuration, the Temporal client, the QFPay
 * client, the clock, metrics, time limits and the engine's default dunning policy.
 */
import type { ReminderLeads } from '../domain/reminders/reminders';
import type { GatewayEnv } from '../gateways/port';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { QfpayClient } from '../gateways/qfpay/client';
import type { DunningPolicy, SubscriptionWorkflowOptions } from '../workflows/definitions';
import {
  DEFAULT_DUNNING_POLICY,
  checkPolicyOverride,
  formatDunningPolicyIssues,
  mergePolicy,
} from '../domain/episode/dunning';
import { NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS } from '../domain/engine-state';
import type { ApiDigests } from './digests';
import { zodDetails } from './errors';
import type { ApiMetrics } from './metrics';
import { DunningPolicyOverrideBodySchema } from './schemas';

/** How long the API waits for Temporal. */
export interface ApiTimeouts {
  /** Signals, queries, starts, describes and list calls. @default 10_000 */
  temporalMs: number;
  /** Workflow updates, which wait for the workflow to finish them (QFPay calls included). @default 30_000 */
  updateMs: number;
  /** How long `POST /v1/subscriptions` waits for the creation before answering 202. @default 20_000 */
  creationWaitMs: number;
  /** `GET /readyz`'s `getSystemInfo` call. @default 2_000 */
  readinessMs: number;
}

export const DEFAULT_API_TIMEOUTS: ApiTimeouts = Object.freeze({
  temporalMs: 10_000,
  updateMs: 30_000,
  creationWaitMs: 20_000,
  readinessMs: 2_000,
});

/** Shared by the routes of one app. */
export interface ApiContext {
  config: Config;
  temporal: Client;
  qfpay: QfpayClient;
  logger: Logger;
  /** Epoch ms. */
  now: () => number;
  metrics: ApiMetrics;
  timeouts: ApiTimeouts;
  /** The engine's default dunning policy (`DUNNING_POLICY` merged onto the built-in default). */
  defaultPolicy: DunningPolicy;
  /** Keyed digests for creation ids, request hashes and list cursors. */
  digests: ApiDigests;
  /** Where the gateways behind the port read their variables. */
  gatewayEnv: GatewayEnv;
}

/** Thrown at start-up when `DUNNING_POLICY` is not a valid (partial) policy. */
export class DunningPolicyConfigError extends Error {
  readonly type = 'DunningPolicyConfigError' as const;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'DunningPolicyConfigError';
  }
}

/** Written with the engine's own camelCase names (`attemptOffsets`), as before the API's snake_case. */
function inEngineNames(json: unknown): boolean {
  return (
    typeof json === 'object' &&
    json !== null &&
    !Array.isArray(json) &&
    Object.keys(json).length > 0 &&
    Object.keys(json).every((key) => !key.includes('_')) &&
    Object.keys(json).some((key) => /[A-Z]/.test(key))
  );
}

/**
 * The engine's default dunning policy: `DUNNING_POLICY` (JSON, any subset of the policy's fields,
 * named as the API names them: `attempt_offsets`, …) merged onto `DEFAULT_DUNNING_POLICY`, or the
 * built-in default when unset. A policy written with the engine's camelCase names only
 * (`attemptOffsets`, …), as configurations were before, is read as well.
 * @throws DunningPolicyConfigError naming what is wrong with `DUNNING_POLICY`
 */
export function engineDefaultPolicy(config: Pick<Config, 'DUNNING_POLICY'>): DunningPolicy {
  const text = config.DUNNING_POLICY?.trim();
  if (!text) return DEFAULT_DUNNING_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (err) {
    throw new DunningPolicyConfigError(`DUNNING_POLICY is not valid JSON: ${(err as Error).message}`, err);
  }
  if (inEngineNames(json)) {
    const override = checkPolicyOverride(json);
    if (!override.ok) {
      throw new DunningPolicyConfigError(
        `DUNNING_POLICY is not a valid dunning policy: ${formatDunningPolicyIssues(override.issues)}`,
        override.issues,
      );
    }
    return mergePolicy(DEFAULT_DUNNING_POLICY, override.value);
  }
  const parsed = DunningPolicyOverrideBodySchema.safeParse(json);
  if (!parsed.success) {
    const issues = zodDetails(parsed.error).map((d) => `${d.path}: ${d.message}`);
    throw new DunningPolicyConfigError(
      `DUNNING_POLICY is not a valid dunning policy: ${issues.join('; ')}`,
      parsed.error,
    );
  }
  return mergePolicy(DEFAULT_DUNNING_POLICY, parsed.data);
}

/**
 * Runs Temporal calls with a deadline, so an unreachable server answers 503 within `ms` instead of
 * the SDK's long connection retries.
 */
export function withinDeadline<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client.withDeadline(Date.now() + ms, fn);
}

/** The workflow options every new subscription workflow gets from the API's configuration. */
export function workflowOptions(config: Config): SubscriptionWorkflowOptions {
  const reminders = reminderLeads(config);
  return {
    merchantEvents: Boolean(config.MERCHANT_EVENTS_URL),
    maxHistoryEvents: config.MAX_HISTORY_EVENTS ?? NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS,
    ...(config.RECONCILE_GRACE_MS === undefined ? {} : { reconcileGraceMs: config.RECONCILE_GRACE_MS }),
    ...(config.RECONCILER === 'schedule' ? { reconciler: 'schedule' as const } : {}),
    ...(reminders === undefined ? {} : { reminders }),
  };
}

/** The reminders configured, or undefined when none is (runs then hold no option for them). */
function reminderLeads(config: Config): ReminderLeads | undefined {
  const leads: ReminderLeads = {
    ...(config.REMINDER_RENEWAL_UPCOMING === undefined
      ? {}
      : { renewal_upcoming: config.REMINDER_RENEWAL_UPCOMING }),
    ...(config.REMINDER_TRIAL_WILL_END === undefined
      ? {}
      : { trial_will_end: config.REMINDER_TRIAL_WILL_END }),
    ...(config.REMINDER_PAYMENT_METHOD_EXPIRING === undefined
      ? {}
      : { payment_method_expiring: config.REMINDER_PAYMENT_METHOD_EXPIRING }),
  };
  return Object.keys(leads).length === 0 ? undefined : leads;
}

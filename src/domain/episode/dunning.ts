/**
 * The dunning policy and the deadline-aware schedule of manual charge attempts.
 *
 * QFPay's rule for `/subscription/v1/charge` (seed 001, "Manual charge"): a manual charge that
 * succeeds before the next billing time keeps the plan ACTIVE; one that succeeds after it
 * cancels the plan. So every attempt, with its retries, must finish strictly before
 * `nextBillingTime − safetyMargin` (the attempt deadline). Everything here is pure and
 * deterministic: it runs inside the workflow sandbox, and all times are epoch milliseconds
 * passed in by the caller (workflow time), never read from a clock.
 */
import { InvalidDurationError, parseDuration, type DurationInput } from '../duration';

/** What the engine does, in order, when a dunning episode is exhausted. */
export const ESCALATION_STEPS = ['notify_customer', 'notify_operations'] as const;
/** One escalation step; see {@link ESCALATION_STEPS}. */
export type EscalationStep = (typeof ESCALATION_STEPS)[number];

/**
 * What happens to the subscription after the last attempt fails:
 * - `cancel`: the engine cancels the subscription at its gateway;
 * - `leave_to_gateway`: the engine stops charging and lets the gateway's own schedule decide;
 * - `hold_dunning`: the engine holds its own dunning (no manual charge, no new episode) until the
 *   merchant releases it; the gateway goes on billing (QFPay documents no pause endpoint);
 * - `leave_to_qfpay`: the earlier name of `leave_to_gateway`, still accepted;
 * - `pause_billing`: the earlier name of `hold_dunning`, still accepted (it never paused billing).
 */
export const DUNNING_FINAL_ACTIONS = [
  'cancel',
  'leave_to_gateway',
  'hold_dunning',
  'leave_to_qfpay',
  'pause_billing',
] as const;
/** One final action; see {@link DUNNING_FINAL_ACTIONS}. */
export type DunningFinalAction = (typeof DUNNING_FINAL_ACTIONS)[number];

/** The final actions that leave recovery to the gateway (the current name and the earlier one). */
export function leavesToGateway(action: DunningFinalAction): boolean {
  return action === 'leave_to_gateway' || action === 'leave_to_qfpay';
}

/**
 * Why a gateway cannot carry out `action`, or undefined when it can. Without a manual charge the
 * engine makes no attempt and there is no dunning of its own to hold. Where the gateway's
 * recovery is timed (`recoveryEndsAfterMs`), the episode is exhausted when that recovery has ended
 * unpaid, so a cancel comes after the gateway's last try. Where it is not (runs from before), the
 * episode was exhausted at its first decline, so any final action but leaving recovery to the
 * gateway would have run before the gateway's own retries could pay the order.
 */
export function finalActionProblem(
  action: DunningFinalAction,
  gateway: { name: string; manualCharge: boolean; recoveryEndsAfterMs?: number },
): string | undefined {
  if (gateway.manualCharge || leavesToGateway(action)) return undefined;
  // Where the engine waits for the end of the gateway's own recovery, a cancel runs after it.
  if (gateway.recoveryEndsAfterMs !== undefined) {
    if (action === 'cancel') return undefined;
    return (
      `${gateway.name} has no manual charge to hold: recovery is ${gateway.name}'s own retries, ` +
      `so the final action must be cancel or leave_to_gateway (not ${action})`
    );
  }
  return (
    `${gateway.name} has no manual charge: the engine makes no attempt and leaves recovery to ` +
    `${gateway.name}'s own retries, so the final action must be leave_to_gateway (not ${action})`
  );
}

/**
 * The default failure kinds not worth retrying with a manual charge:
 * - `1294`: the bank refused the transaction as risky; QFPay advises against automatic retries;
 * - `1201`: insufficient balance, "please use a different payment method": the same card is
 *   expected to fail again, so the customer is asked for a new card instead.
 *
 * A subscription whose customer is expected to top up the card can drop `1201` from
 * `nonRetryableRespcds` in its policy override.
 */
export const DEFAULT_NON_RETRYABLE_RESPCDS: readonly string[] = Object.freeze(['1294', '1201']);

/** The most attempts a policy may schedule for one failed order. */
export const MAX_DUNNING_ATTEMPTS = 20;

/** The longest a QFPay call may take: the client's timeout is at most this (see `src/config.ts`). */
export const MAX_QFPAY_CALL_MS = 10_000;

/** How far QFPay's clock and the engine's may disagree. */
export const CLOCK_SKEW_ALLOWANCE_MS = 5_000;

/**
 * The smallest safety margin a policy may have: a charge sent at the last moment the engine
 * allows still reaches QFPay, by QFPay's clock, before the next billing time.
 */
export const MIN_SAFETY_MARGIN_MS = MAX_QFPAY_CALL_MS + CLOCK_SKEW_ALLOWANCE_MS;

/** QFPay's success code: a success is not a failure, retryable or otherwise. */
const RESPCD_SUCCESS = '0000';

/**
 * A parsed dunning policy: every duration in milliseconds, plain JSON, so it travels through
 * workflow history and continue-as-new unchanged.
 */
export interface DunningPolicy {
  /** When to attempt a manual charge, measured from the failure; strictly ascending, 1 to 20 entries. */
  attemptOffsets: number[];
  /** How long before the next billing time every attempt must be over. */
  safetyMargin: number;
  /** How long one attempt and its activity retries may need; positive. */
  minAttemptWindow: number;
  /** Steps taken, in order, when the episode is exhausted; no step twice. */
  escalation: EscalationStep[];
  /** What happens to the subscription after the last attempt fails. */
  finalAction: DunningFinalAction;
  /** `respcd` values that end the episode at once; default {@link DEFAULT_NON_RETRYABLE_RESPCDS}. */
  nonRetryableRespcds: string[];
}

/** A policy as configured: durations as text (`'3d'`) or milliseconds, `nonRetryableRespcds` optional. */
export interface DunningPolicyInput {
  attemptOffsets: DurationInput[];
  safetyMargin: DurationInput;
  minAttemptWindow: DurationInput;
  escalation: EscalationStep[];
  finalAction: DunningFinalAction;
  nonRetryableRespcds?: string[];
}

/** A per-subscription override: any subset of the policy's fields, in input form. */
export type DunningPolicyOverride = Partial<DunningPolicyInput>;

/** One problem with a policy: where (`['attemptOffsets', 2]`) and why. */
export interface DunningPolicyIssue {
  path: (string | number)[];
  message: string;
}

/** The outcome of checking a policy or an override: the parsed value, or every problem found. */
export type DunningPolicyCheck<T> = { ok: true; value: T } | { ok: false; issues: DunningPolicyIssue[] };

/** Thrown by {@link mergePolicy} and {@link parseDunningPolicy} for an invalid policy. */
export class InvalidDunningPolicyError extends Error {
  /** Stable kind, for callers that branch on it. */
  readonly type = 'InvalidDunningPolicy';
  override readonly name = 'InvalidDunningPolicyError';

  constructor(readonly issues: DunningPolicyIssue[]) {
    super(`invalid dunning policy: ${formatDunningPolicyIssues(issues)}`);
  }
}

/** `attemptOffsets.1: must be …; finalAction: …`, for logs and error messages. */
export function formatDunningPolicyIssues(issues: readonly DunningPolicyIssue[]): string {
  return issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

const POLICY_FIELDS = [
  'attemptOffsets',
  'safetyMargin',
  'minAttemptWindow',
  'escalation',
  'finalAction',
  'nonRetryableRespcds',
] as const satisfies readonly (keyof DunningPolicy)[];
type PolicyField = (typeof POLICY_FIELDS)[number];

const isPolicyField = (key: string): key is PolicyField => (POLICY_FIELDS as readonly string[]).includes(key);

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/*
 * The checks below are plain functions rather than a schema library on purpose: this module runs
 * inside every subscription workflow, and the workflow sandbox evaluates its modules once per
 * cached workflow, so a schema library here costs memory for every open subscription. The API
 * describes the same shape with zod for its documentation and defers to these checks.
 */

type FieldCheck = (value: unknown, path: (string | number)[], issues: DunningPolicyIssue[]) => unknown;

function duration(
  value: unknown,
  path: (string | number)[],
  issues: DunningPolicyIssue[],
): number | undefined {
  try {
    return parseDuration(value as DurationInput);
  } catch (error) {
    if (!(error instanceof InvalidDurationError)) throw error;
    issues.push({ path, message: error.message });
    return undefined;
  }
}

function array(
  value: unknown,
  path: (string | number)[],
  issues: DunningPolicyIssue[],
): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  issues.push({ path, message: 'must be an array' });
  return undefined;
}

const FIELD_CHECKS: Record<PolicyField, FieldCheck> = {
  attemptOffsets(value, path, issues) {
    const items = array(value, path, issues);
    if (!items) return undefined;
    if (items.length < 1 || items.length > MAX_DUNNING_ATTEMPTS) {
      issues.push({ path, message: `must have 1 to ${MAX_DUNNING_ATTEMPTS} entries` });
      return undefined;
    }
    const before = issues.length;
    const offsets = items.map((item, i) => duration(item, [...path, i], issues));
    if (issues.length > before) return undefined;
    for (let i = 1; i < offsets.length; i++) {
      if ((offsets[i] ?? 0) <= (offsets[i - 1] ?? 0)) {
        issues.push({ path: [...path, i], message: 'attempt offsets must be strictly ascending' });
      }
    }
    return offsets;
  },
  safetyMargin(value, path, issues) {
    const ms = duration(value, path, issues);
    if (ms !== undefined && ms < MIN_SAFETY_MARGIN_MS) {
      issues.push({
        path,
        message: `must be at least ${MIN_SAFETY_MARGIN_MS / 1000}s (the QFPay timeout plus the clock skew allowed)`,
      });
    }
    return ms;
  },
  minAttemptWindow(value, path, issues) {
    const ms = duration(value, path, issues);
    if (ms === 0) issues.push({ path, message: 'must be longer than zero' });
    return ms;
  },
  escalation(value, path, issues) {
    const items = array(value, path, issues);
    if (!items) return undefined;
    items.forEach((step, i) => {
      if (!(ESCALATION_STEPS as readonly unknown[]).includes(step)) {
        issues.push({ path: [...path, i], message: `must be one of ${quoted(ESCALATION_STEPS)}` });
      }
    });
    if (new Set(items).size !== items.length)
      issues.push({ path, message: 'escalation steps must not repeat' });
    return [...items];
  },
  finalAction(value, path, issues) {
    if (!(DUNNING_FINAL_ACTIONS as readonly unknown[]).includes(value)) {
      issues.push({ path, message: `must be one of ${quoted(DUNNING_FINAL_ACTIONS)}` });
    }
    return value;
  },
  nonRetryableRespcds(value, path, issues) {
    const items = array(value, path, issues);
    if (!items) return undefined;
    return items.map((code, i) => {
      const text = typeof code === 'string' ? code.trim() : '';
      if (text === '') issues.push({ path: [...path, i], message: 'must be a non-empty string' });
      return text;
    });
  },
};

/**
 * Checks one field of a policy or override in input form, e.g. for a schema that describes the
 * same shape at the API.
 *
 * @returns every problem found, with paths relative to the field (`[2]` for its third entry)
 */
export function checkPolicyField(field: keyof DunningPolicy, value: unknown): DunningPolicyIssue[] {
  const issues: DunningPolicyIssue[] = [];
  FIELD_CHECKS[field](value, [], issues);
  return issues;
}

function checkFields(
  input: unknown,
  required: readonly PolicyField[],
): DunningPolicyCheck<Partial<DunningPolicy>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ path: [], message: 'must be an object' }] };
  }
  const issues: DunningPolicyIssue[] = [];
  const value: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(input)) {
    // Unknown keys are rejected so that a misspelt field is not silently ignored.
    if (!isPolicyField(key)) {
      issues.push({ path: [key], message: 'unknown field' });
    } else if (field !== undefined) {
      value[key] = FIELD_CHECKS[key](field, [key], issues);
    }
  }
  for (const key of required) {
    if (!(key in value)) issues.push({ path: [key], message: 'is required' });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: value as Partial<DunningPolicy> };
}

/**
 * Checks a per-subscription override on its own (before it is merged), e.g. at the API or in an
 * update's validator: any subset of the fields, in input form; unknown keys are rejected.
 *
 * @returns the override with durations in milliseconds, or every problem found
 */
export function checkPolicyOverride(input: unknown): DunningPolicyCheck<Partial<DunningPolicy>> {
  return checkFields(input, []);
}

/**
 * Checks a complete policy in input form; `nonRetryableRespcds` defaults to
 * {@link DEFAULT_NON_RETRYABLE_RESPCDS}.
 *
 * @returns the parsed policy (plain JSON, durations in milliseconds), or every problem found
 */
export function checkDunningPolicy(input: unknown): DunningPolicyCheck<DunningPolicy> {
  const checked = checkFields(
    input,
    POLICY_FIELDS.filter((f) => f !== 'nonRetryableRespcds'),
  );
  if (!checked.ok) return checked;
  return {
    ok: true,
    value: {
      nonRetryableRespcds: [...DEFAULT_NON_RETRYABLE_RESPCDS],
      ...checked.value,
    } as DunningPolicy,
  };
}

/**
 * Parses a complete policy; see {@link checkDunningPolicy}.
 * @throws {InvalidDunningPolicyError} naming every problem
 */
export function parseDunningPolicy(input: DunningPolicyInput): DunningPolicy {
  const checked = checkDunningPolicy(input);
  if (!checked.ok) throw new InvalidDunningPolicyError(checked.issues);
  return checked.value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * The engine's default policy: attempts 1 h, 1 d and 3 d after the failure, every attempt over
 * 2 h before the next billing time, 5 min per attempt, then notify the customer and operations
 * and leave the subscription to its gateway. Frozen; derive variants with {@link mergePolicy}.
 */
export const DEFAULT_DUNNING_POLICY: DunningPolicy = deepFreeze(
  parseDunningPolicy({
    attemptOffsets: ['1h', '1d', '3d'],
    safetyMargin: '2h',
    minAttemptWindow: '5m',
    escalation: ['notify_customer', 'notify_operations'],
    finalAction: 'leave_to_gateway',
  }),
);

/**
 * Applies a per-subscription override to a base policy. Fields the override leaves out (or sets
 * to `undefined`) keep the base's value; arrays are replaced, not concatenated.
 *
 * @param base a parsed policy, typically {@link DEFAULT_DUNNING_POLICY}
 * @param override any subset of the policy's fields, in input form
 * @returns a new parsed policy, sharing no array with `base`
 * @throws {InvalidDunningPolicyError} when the override is invalid (check it first with {@link checkPolicyOverride})
 */
export function mergePolicy(base: DunningPolicy, override?: DunningPolicyOverride | null): DunningPolicy {
  const checked = checkPolicyOverride(override ?? {});
  if (!checked.ok) throw new InvalidDunningPolicyError(checked.issues);
  return parseDunningPolicy({ ...base, ...checked.value });
}

/**
 * The moment by which an attempt, retries included, must be over: the schedule-to-close bound
 * the workflow gives each manual charge activity.
 *
 * @param nextBillingTime the subscription's next billing time, epoch ms
 * @param policy the parsed policy
 * @returns `nextBillingTime − safetyMargin`, epoch ms
 */
export function attemptDeadline(nextBillingTime: number, policy: DunningPolicy): number {
  return nextBillingTime - policy.safetyMargin;
}

/**
 * How long an attempt starting at `startTime` may run: the schedule-to-close timeout for its
 * activity. Zero means there is no time left and the attempt must not start.
 *
 * @param startTime when the attempt starts, epoch ms (workflow time)
 * @param nextBillingTime the subscription's next billing time, epoch ms
 * @param policy the parsed policy
 * @returns milliseconds until {@link attemptDeadline}, never negative
 */
export function attemptTimeBudget(startTime: number, nextBillingTime: number, policy: DunningPolicy): number {
  return Math.max(0, attemptDeadline(nextBillingTime, policy) - startTime);
}

/** Input of {@link scheduleAttempts}; all times are epoch ms. */
export interface DunningScheduleInput {
  /** When the failed charge happened (the failed order's time). */
  failureTime: number;
  /**
   * The subscription's next billing time. `null`/`undefined` (unknown) yields no attempts: the
   * caller must reconcile with QFPay's query API first, because charging without knowing the
   * deadline risks cancelling the plan.
   */
  nextBillingTime: number | null | undefined;
  /** The current workflow time. */
  now: number;
  /** The parsed policy. */
  policy: DunningPolicy;
  /** Attempts already made in this episode; the first `attemptsMade` offsets are skipped. Default 0. */
  attemptsMade?: number;
  /**
   * When the episode's latest attempt started, if any. Candidates due at or before it were
   * served by it (an attempt that caught up after an outage covers every overdue offset), and no
   * new attempt is placed at or before it, so replanning after an attempt never repeats one.
   */
  lastAttemptAt?: number | null;
}

/**
 * Plans the remaining manual charge attempts of a dunning episode.
 *
 * Each remaining offset gives a candidate `failureTime + offset`. With
 * `deadline = nextBillingTime − safetyMargin`, an attempt at `t` is kept only when
 * `t + minAttemptWindow ≤ deadline`, so that it can finish before the deadline. A candidate
 * already in the past (say, after a worker outage) is moved to `now`; several such candidates
 * collapse into one attempt, so nothing runs twice (and, given `lastAttemptAt`, nothing runs again
 * for offsets an earlier attempt already served). No attempt is placed before `failureTime`
 * either, in case QFPay's clock runs ahead of the worker's. Candidates that cannot fit are
 * dropped; when none fits before any attempt was made but one still can, exactly one is placed as late as is safe
 * (`deadline − minAttemptWindow`, less {@link lateWakeSlack}), giving the customer the most time
 * to fund the card.
 *
 * @returns attempt times, epoch ms, strictly ascending; empty when the next billing time is
 *   unknown, when no attempt can finish before the deadline, or when every offset has been used
 *   (`attemptsMade` ≥ the number of offsets, or all of them served by `lastAttemptAt`)
 * @throws {RangeError} when `failureTime` or `now` is not a finite number
 */
export function scheduleAttempts(input: DunningScheduleInput): number[] {
  const { failureTime, nextBillingTime, now, policy } = input;
  if (!Number.isFinite(failureTime) || !Number.isFinite(now)) {
    throw new RangeError(`failureTime and now must be finite epoch ms (got ${failureTime}, ${now})`);
  }
  if (typeof nextBillingTime !== 'number' || !Number.isFinite(nextBillingTime)) return [];

  const attemptsMade = Math.max(0, Math.floor(input.attemptsMade ?? 0)) || 0;
  const lastAttemptAt = input.lastAttemptAt;
  const servedUntil =
    typeof lastAttemptAt === 'number' && Number.isFinite(lastAttemptAt) ? lastAttemptAt : -Infinity;
  const remainingOffsets = policy.attemptOffsets
    .slice(attemptsMade)
    .filter((offset) => failureTime + offset > servedUntil);
  if (remainingOffsets.length === 0) return [];

  const earliestStart = Math.max(now, failureTime, servedUntil + 1);
  const latestStart = attemptDeadline(nextBillingTime, policy) - policy.minAttemptWindow;
  if (earliestStart > latestStart) return [];

  const attempts: number[] = [];
  for (const offset of remainingOffsets) {
    const start = Math.max(failureTime + offset, earliestStart);
    // Offsets ascend, so once one candidate is too late every later one is too.
    if (start > latestStart) break;
    const previous = attempts[attempts.length - 1];
    if (previous === undefined || start > previous) attempts.push(start);
  }
  // The fallback is for an episode none of whose offsets fits; once attempts were made, offsets
  // that no longer fit are dropped, not moved.
  if (attempts.length === 0 && servedUntil === -Infinity) {
    attempts.push(Math.max(earliestStart, latestStart - lateWakeSlack(policy)));
  }
  return attempts;
}

/**
 * How far before the latest safe start the single fallback attempt is placed. A workflow wakes a
 * little after its timer (a busy worker, a slow workflow task); an attempt placed exactly at the
 * latest safe start would then find its window closed and never run.
 *
 * @returns a minute, or half the attempt window when that is shorter
 */
export function lateWakeSlack(policy: DunningPolicy): number {
  return Math.min(60_000, Math.floor(policy.minAttemptWindow / 2));
}

/**
 * Whether a failed charge is worth another manual charge attempt under the policy.
 *
 * @param respcd QFPay's return code for the failure; `undefined` (no code, e.g. a network failure) is retryable
 * @param policy the parsed policy
 * @returns `false` for a code in `nonRetryableRespcds` and for the success code `0000` (nothing to retry)
 */
export function isRetryableFailure(respcd: string | null | undefined, policy: DunningPolicy): boolean {
  if (respcd === null || respcd === undefined) return true;
  const code = respcd.trim();
  if (code === RESPCD_SUCCESS) return false;
  return !policy.nonRetryableRespcds.includes(code);
}

/**
 * The outcome of one manual charge attempt: QFPay's answer (`succeeded`, `failed`, or `pending`
 * when it has not settled the charge yet, e.g. `1143`, `1145`), `error` when no answer came
 * before the attempt's deadline, `skipped` when the attempt was called off.
 */
export const DUNNING_ATTEMPT_RESULTS = ['succeeded', 'failed', 'pending', 'error', 'skipped'] as const;

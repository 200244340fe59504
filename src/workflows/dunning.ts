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
import { z } from 'zod';
import { InvalidDurationError, parseDuration } from './duration';

/** What the engine does, in order, when a dunning episode is exhausted. */
export const ESCALATION_STEPS = ['notify_customer', 'notify_operations'] as const;
/** One escalation step; see {@link ESCALATION_STEPS}. */
export type EscalationStep = (typeof ESCALATION_STEPS)[number];

/**
 * What happens to the subscription after the last attempt fails:
 * - `cancel`: the engine cancels the subscription at QFPay;
 * - `leave_to_qfpay`: the engine stops charging and lets QFPay's own schedule decide;
 * - `pause_billing`: the engine stops billing on its side until an operator resumes it
 *   (QFPay documents no pause endpoint).
 */
export const DUNNING_FINAL_ACTIONS = ['cancel', 'leave_to_qfpay', 'pause_billing'] as const;
/** One final action; see {@link DUNNING_FINAL_ACTIONS}. */
export type DunningFinalAction = (typeof DUNNING_FINAL_ACTIONS)[number];

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

/** QFPay's success code: a success is not a failure, retryable or otherwise. */
const RESPCD_SUCCESS = '0000';

const DurationMsSchema = z.union([z.string(), z.number()]).transform((value, ctx): number => {
  try {
    return parseDuration(value);
  } catch (error) {
    if (!(error instanceof InvalidDurationError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message, input: value });
    return z.NEVER;
  }
});

const AttemptOffsetsSchema = z
  .array(DurationMsSchema)
  .min(1)
  .max(MAX_DUNNING_ATTEMPTS)
  .superRefine((offsets, ctx) => {
    for (let i = 1; i < offsets.length; i++) {
      if ((offsets[i] ?? 0) <= (offsets[i - 1] ?? 0)) {
        ctx.addIssue({
          code: 'custom',
          message: 'attempt offsets must be strictly ascending',
          path: [i],
          input: offsets,
        });
      }
    }
  });

const EscalationSchema = z
  .array(z.enum(ESCALATION_STEPS))
  .refine((steps) => new Set(steps).size === steps.length, {
    message: 'escalation steps must not repeat',
  });

const RespcdListSchema = z.array(z.string().trim().min(1));

/**
 * A dunning policy. Durations are accepted as text (`'3d'`) or milliseconds and come out as
 * milliseconds, so the parsed policy is plain JSON that can travel through workflow history and
 * continue-as-new.
 */
export const DunningPolicySchema = z.strictObject({
  /** When to attempt a manual charge, measured from the failure; strictly ascending, 1 to 20 entries. */
  attemptOffsets: AttemptOffsetsSchema,
  /** How long before the next billing time every attempt must be over. */
  safetyMargin: DurationMsSchema,
  /** How long one attempt and its activity retries may need; positive. */
  minAttemptWindow: DurationMsSchema.refine((ms) => ms > 0, { message: 'must be longer than zero' }),
  /** Steps taken, in order, when the episode is exhausted. */
  escalation: EscalationSchema,
  /** What happens to the subscription after the last attempt fails. */
  finalAction: z.enum(DUNNING_FINAL_ACTIONS),
  /** `respcd` values that end the episode at once; default {@link DEFAULT_NON_RETRYABLE_RESPCDS}. */
  nonRetryableRespcds: RespcdListSchema.default(() => [...DEFAULT_NON_RETRYABLE_RESPCDS]),
});

/** A policy as configured: durations as text or milliseconds, `nonRetryableRespcds` optional. */
export type DunningPolicyInput = z.input<typeof DunningPolicySchema>;
/** A parsed policy: every duration in milliseconds, plain JSON. */
export type DunningPolicy = z.output<typeof DunningPolicySchema>;
/** A per-subscription override: any subset of the policy's fields, in input form. */
export type DunningPolicyOverride = Partial<DunningPolicyInput>;

/**
 * Validates a per-subscription override on its own (before it is merged), e.g. at the API.
 * Unknown keys are rejected so that a misspelt field is not silently ignored.
 */
export const DunningPolicyOverrideSchema = z.strictObject({
  attemptOffsets: AttemptOffsetsSchema.optional(),
  safetyMargin: DurationMsSchema.optional(),
  minAttemptWindow: DurationMsSchema.refine((ms) => ms > 0, {
    message: 'must be longer than zero',
  }).optional(),
  escalation: EscalationSchema.optional(),
  finalAction: z.enum(DUNNING_FINAL_ACTIONS).optional(),
  nonRetryableRespcds: RespcdListSchema.optional(),
});

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
 * and leave the subscription to QFPay. Frozen; derive variants with {@link mergePolicy}.
 */
export const DEFAULT_DUNNING_POLICY: DunningPolicy = deepFreeze(
  DunningPolicySchema.parse({
    attemptOffsets: ['1h', '1d', '3d'],
    safetyMargin: '2h',
    minAttemptWindow: '5m',
    escalation: ['notify_customer', 'notify_operations'],
    finalAction: 'leave_to_qfpay',
  } satisfies DunningPolicyInput),
);

/**
 * Applies a per-subscription override to a base policy. Fields the override leaves out (or sets
 * to `undefined`) keep the base's value; arrays are replaced, not concatenated.
 *
 * @param base a parsed policy, typically {@link DEFAULT_DUNNING_POLICY}
 * @param override any subset of the policy's fields, in input form
 * @returns a new parsed policy
 * @throws {z.ZodError} when the override is invalid (validate it first with {@link DunningPolicyOverrideSchema})
 */
export function mergePolicy(base: DunningPolicy, override?: DunningPolicyOverride | null): DunningPolicy {
  const present = Object.fromEntries(
    Object.entries(override ?? {}).filter(([, value]) => value !== undefined),
  );
  return DunningPolicySchema.parse({ ...base, ...present });
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
 * dropped; when none fits but an attempt still can, exactly one is placed as late as is safe
 * (`deadline − minAttemptWindow`), giving the customer the most time to fund the card.
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
  if (attempts.length === 0) attempts.push(latestStart);
  return attempts;
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

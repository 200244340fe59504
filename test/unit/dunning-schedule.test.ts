import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_DUNNING_POLICY,
  DEFAULT_NON_RETRYABLE_RESPCDS,
  DUNNING_FINAL_ACTIONS,
  InvalidDunningPolicyError,
  ESCALATION_STEPS,
  MAX_DUNNING_ATTEMPTS,
  attemptDeadline,
  attemptTimeBudget,
  checkDunningPolicy,
  checkPolicyOverride,
  isRetryableFailure,
  mergePolicy,
  parseDunningPolicy,
  MIN_SAFETY_MARGIN_MS,
  lateWakeSlack,
  scheduleAttempts,
  type DunningPolicy,
  type EscalationStep,
} from '../../src/domain/episode/dunning';
import { SECOND, MINUTE, HOUR, DAY } from '../../src/domain/duration';

/** 2024-11-21T03:12:06Z: an arbitrary failure time for the worked examples. */
const T = Date.UTC(2024, 10, 21, 3, 12, 6);

function policy(overrides: Parameters<typeof mergePolicy>[1]): DunningPolicy {
  return mergePolicy(DEFAULT_DUNNING_POLICY, overrides);
}

// Billing cycles the engine meets: minute and hour intervals (QFPay's sandbox, the emulator), and real plans.
const cycleArb = fc.oneof(
  fc.constantFrom(
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    HOUR,
    6 * HOUR,
    DAY,
    7 * DAY,
    30 * DAY,
    31 * DAY,
    365 * DAY,
  ),
  fc.integer({ min: MINUTE, max: 400 * DAY }),
);

// A policy scaled to a cycle, so short cycles get offsets that can fit as well as ones that cannot.
function policyArb(cycle: number): fc.Arbitrary<DunningPolicy> {
  const scale = fc.constantFrom(cycle, DAY, 30 * DAY);
  return scale.chain((span) =>
    fc
      .record({
        attemptOffsets: fc.uniqueArray(fc.integer({ min: 0, max: 2 * span }), {
          minLength: 1,
          maxLength: MAX_DUNNING_ATTEMPTS,
        }),
        safetyMargin: fc.oneof(
          fc.constant(MIN_SAFETY_MARGIN_MS),
          fc.integer({ min: MIN_SAFETY_MARGIN_MS, max: Math.max(MIN_SAFETY_MARGIN_MS, span) }),
        ),
        minAttemptWindow: fc.integer({ min: 1, max: Math.max(1, Math.floor(span / 4)) }),
        escalation: fc.subarray([...ESCALATION_STEPS]),
        finalAction: fc.constantFrom(...DUNNING_FINAL_ACTIONS),
      })
      .map((raw) =>
        parseDunningPolicy({ ...raw, attemptOffsets: [...raw.attemptOffsets].sort((a, b) => a - b) }),
      ),
  );
}

const scenarioArb = cycleArb.chain((cycle) =>
  fc.record({
    cycle: fc.constant(cycle),
    policy: policyArb(cycle),
    // 2001 to 2100: any realistic epoch.
    failureTime: fc.integer({ min: 978_307_200_000, max: 4_102_444_800_000 }),
    // How long after its billing time the order failed (QFPay's own retries can take a while).
    failureDelay: fc.integer({ min: 0, max: Math.min(cycle, DAY) }),
    // How late the workflow plans: at once, after a short delay, or after a long worker outage.
    lag: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: HOUR }),
      fc.integer({ min: 0, max: Math.ceil(cycle * 1.5) }),
    ),
    attemptsMadeRaw: fc.nat({ max: MAX_DUNNING_ATTEMPTS + 1 }),
  }),
);

interface Scenario {
  cycle: number;
  policy: DunningPolicy;
  failureTime: number;
  failureDelay: number;
  lag: number;
  attemptsMadeRaw: number;
}

function plan(s: Scenario, attemptsMade = 0) {
  const nextBillingTime = s.failureTime - s.failureDelay + s.cycle;
  const now = s.failureTime + s.lag;
  const deadline = nextBillingTime - s.policy.safetyMargin;
  const attempts = scheduleAttempts({
    failureTime: s.failureTime,
    nextBillingTime,
    now,
    policy: s.policy,
    attemptsMade,
  });
  return { nextBillingTime, now, deadline, latestStart: deadline - s.policy.minAttemptWindow, attempts };
}

void describe('scheduleAttempts properties', () => {
  void it('every attempt can finish before next billing time minus the margin, and none starts before now', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const attemptsMade = s.attemptsMadeRaw % (s.policy.attemptOffsets.length + 2);
        const { attempts, now, nextBillingTime } = plan(s, attemptsMade);
        for (const t of attempts) {
          assert.ok(t + s.policy.minAttemptWindow <= nextBillingTime - s.policy.safetyMargin);
          assert.ok(t >= now);
          assert.ok(t >= s.failureTime);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  void it('attempts are strictly ascending and never more than the offsets left', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const attemptsMade = s.attemptsMadeRaw % (s.policy.attemptOffsets.length + 2);
        const { attempts } = plan(s, attemptsMade);
        for (let i = 1; i < attempts.length; i++) assert.ok(attempts[i]! > attempts[i - 1]!);
        assert.ok(attempts.length <= Math.max(0, s.policy.attemptOffsets.length - attemptsMade));
      }),
      { numRuns: 2_000 },
    );
  });

  void it('plans at least one attempt whenever one can still finish before the deadline', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const attemptsMade = s.attemptsMadeRaw % s.policy.attemptOffsets.length;
        const { attempts, now, deadline } = plan(s, attemptsMade);
        if (now + s.policy.minAttemptWindow <= deadline) assert.ok(attempts.length >= 1);
        else assert.deepEqual(attempts, []);
      }),
      { numRuns: 2_000 },
    );
  });

  void it('keeps every candidate that fits unchanged, and moves at most one attempt off the candidates', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { attempts, now, latestStart } = plan(s);
        const candidates = s.policy.attemptOffsets.map((offset) => s.failureTime + offset);
        for (const c of candidates) {
          if (c >= now && c <= latestStart) assert.ok(attempts.includes(c), `candidate ${c} dropped`);
        }
        const moved = attempts.filter((t) => !candidates.includes(t));
        assert.ok(moved.length <= 1);
        // A moved attempt is either a catch-up at now or the single late fallback.
        const fallback = Math.max(now, latestStart - lateWakeSlack(s.policy));
        for (const t of moved) assert.ok(t === now || t === fallback);
      }),
      { numRuns: 2_000 },
    );
  });

  void it('replanning before the first attempt changes nothing unless the first attempt was a catch-up', () => {
    fc.assert(
      fc.property(scenarioArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, fraction) => {
        const first = plan(s);
        const head = first.attempts[0];
        fc.pre(head !== undefined && head > first.now);
        const later = first.now + Math.floor((head - first.now) * fraction);
        const again = scheduleAttempts({
          failureTime: s.failureTime,
          nextBillingTime: first.nextBillingTime,
          now: later,
          policy: s.policy,
        });
        assert.deepEqual(again, first.attempts);
      }),
      { numRuns: 1_000 },
    );
  });

  void it('replanning after every failed attempt runs each attempt once, in order, inside the deadline', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 25 }),
        (s, runs) => {
          const first = plan(s);
          let now = first.now;
          let attemptsMade = 0;
          let lastAttemptAt: number | null = null;
          const made: number[] = [];
          for (const fraction of runs) {
            const [next] = scheduleAttempts({
              failureTime: s.failureTime,
              nextBillingTime: first.nextBillingTime,
              now,
              policy: s.policy,
              attemptsMade,
              lastAttemptAt,
            });
            if (next === undefined) break;
            made.push(next);
            attemptsMade += 1;
            lastAttemptAt = next;
            // The attempt takes part of its window; the workflow then replans.
            now = next + Math.floor(s.policy.minAttemptWindow * fraction);
          }
          for (let i = 1; i < made.length; i++) assert.ok(made[i]! > made[i - 1]!);
          assert.ok(made.length <= s.policy.attemptOffsets.length);
          for (const t of made) assert.ok(t + s.policy.minAttemptWindow <= first.deadline);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

void describe('scheduleAttempts examples', () => {
  void it('plans the default 1 h, 1 d and 3 d attempts inside a monthly cycle', () => {
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 30 * DAY,
        now: T,
        policy: DEFAULT_DUNNING_POLICY,
      }),
      [T + HOUR, T + DAY, T + 3 * DAY],
    );
  });

  void it('plans the same attempts inside a yearly cycle', () => {
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 365 * DAY,
        now: T,
        policy: DEFAULT_DUNNING_POLICY,
      }),
      [T + HOUR, T + DAY, T + 3 * DAY],
    );
  });

  void it('keeps only the 1 h attempt inside a daily cycle', () => {
    assert.deepEqual(
      scheduleAttempts({ failureTime: T, nextBillingTime: T + DAY, now: T, policy: DEFAULT_DUNNING_POLICY }),
      [T + HOUR],
    );
  });

  void it('plans nothing for an hourly cycle whose margin (2 h) is longer than the cycle', () => {
    assert.deepEqual(
      scheduleAttempts({ failureTime: T, nextBillingTime: T + HOUR, now: T, policy: DEFAULT_DUNNING_POLICY }),
      [],
    );
  });

  void it('fits a minutes-scale policy into a 10-minute cycle', () => {
    const minutes = policy({
      attemptOffsets: ['1m', '2m', '5m', '9m'],
      safetyMargin: '1m',
      minAttemptWindow: '30s',
    });
    assert.deepEqual(
      scheduleAttempts({ failureTime: T, nextBillingTime: T + 10 * MINUTE, now: T, policy: minutes }),
      [T + MINUTE, T + 2 * MINUTE, T + 5 * MINUTE],
    );
  });

  void it('plans nothing when the failure comes after the deadline', () => {
    const nextBillingTime = T + HOUR; // deadline = T − 1 h
    assert.deepEqual(
      scheduleAttempts({ failureTime: T, nextBillingTime, now: T, policy: DEFAULT_DUNNING_POLICY }),
      [],
    );
  });

  void it('plans nothing when the next billing time has already passed', () => {
    assert.deepEqual(
      scheduleAttempts({ failureTime: T, nextBillingTime: T - DAY, now: T, policy: DEFAULT_DUNNING_POLICY }),
      [],
    );
  });

  void it('collapses overdue attempts into one catch-up attempt at now after a worker outage', () => {
    const now = T + 2 * DAY;
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 30 * DAY,
        now,
        policy: DEFAULT_DUNNING_POLICY,
      }),
      [now, T + 3 * DAY],
    );
  });

  void it('catches up with a single attempt when every candidate is overdue', () => {
    const now = T + 10 * DAY;
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 30 * DAY,
        now,
        policy: DEFAULT_DUNNING_POLICY,
      }),
      [now],
    );
  });

  void it('keeps a candidate due exactly now once, not twice', () => {
    const now = T + DAY;
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 30 * DAY,
        now,
        policy: DEFAULT_DUNNING_POLICY,
      }),
      [T + DAY, T + 3 * DAY],
    );
  });

  void it('skips the attempts already made', () => {
    const input = {
      failureTime: T,
      nextBillingTime: T + 30 * DAY,
      now: T + 2 * HOUR,
      policy: DEFAULT_DUNNING_POLICY,
    };
    assert.deepEqual(scheduleAttempts({ ...input, attemptsMade: 1 }), [T + DAY, T + 3 * DAY]);
    assert.deepEqual(scheduleAttempts({ ...input, attemptsMade: 2 }), [T + 3 * DAY]);
    assert.deepEqual(scheduleAttempts({ ...input, attemptsMade: 3 }), []);
    assert.deepEqual(scheduleAttempts({ ...input, attemptsMade: 7 }), []);
  });

  void it('treats candidates served by a catch-up attempt as done when replanning', () => {
    const catchUp = T + 2 * DAY;
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 30 * DAY,
        now: catchUp + MINUTE,
        policy: DEFAULT_DUNNING_POLICY,
        attemptsMade: 1,
        lastAttemptAt: catchUp,
      }),
      [T + 3 * DAY],
    );
  });

  void it('keeps an attempt that would end exactly at the deadline', () => {
    // deadline = T + 1 h + 5 min, so the 1 h attempt has exactly its 5-minute window.
    const nextBillingTime = T + HOUR + 5 * MINUTE + 2 * HOUR;
    const only1h = policy({ attemptOffsets: ['1h', '1d'] });
    assert.deepEqual(scheduleAttempts({ failureTime: T, nextBillingTime, now: T, policy: only1h }), [
      T + HOUR,
    ]);
  });

  void it('moves an attempt that would end one millisecond past the deadline to the latest safe start, less the wake-up slack', () => {
    const nextBillingTime = T + HOUR + 5 * MINUTE + 2 * HOUR - 1;
    const only1h = policy({ attemptOffsets: ['1h', '1d'] });
    assert.deepEqual(scheduleAttempts({ failureTime: T, nextBillingTime, now: T, policy: only1h }), [
      T + HOUR - 1 - MINUTE,
    ]);
  });

  void it('places one attempt as late as is safe (less a minute for a late wake-up) when no candidate fits', () => {
    const late = policy({ attemptOffsets: ['1d', '3d'] });
    const nextBillingTime = T + DAY;
    assert.deepEqual(scheduleAttempts({ failureTime: T, nextBillingTime, now: T, policy: late }), [
      nextBillingTime - 2 * HOUR - 5 * MINUTE - MINUTE,
    ]);
  });

  void it('still plans an attempt when now is exactly the latest safe start, and none a millisecond later', () => {
    const nextBillingTime = T + DAY;
    const latestStart = nextBillingTime - 2 * HOUR - 5 * MINUTE;
    const input = { failureTime: T, nextBillingTime, policy: DEFAULT_DUNNING_POLICY };
    assert.deepEqual(scheduleAttempts({ ...input, now: latestStart }), [latestStart]);
    assert.deepEqual(scheduleAttempts({ ...input, now: latestStart + 1 }), []);
  });

  void it('never plans an attempt before the failure, even when QFPay’s clock runs ahead', () => {
    assert.deepEqual(
      scheduleAttempts({
        failureTime: T,
        nextBillingTime: T + 30 * DAY,
        now: T - 5 * SECOND,
        policy: policy({ attemptOffsets: [0, '1h'] }),
      }),
      [T, T + HOUR],
    );
  });

  void it('plans nothing when the next billing time is unknown, so the caller reconciles first', () => {
    for (const nextBillingTime of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.deepEqual(
        scheduleAttempts({ failureTime: T, nextBillingTime, now: T, policy: DEFAULT_DUNNING_POLICY }),
        [],
      );
    }
  });

  void it('rejects a failure time or now that is not a finite number', () => {
    const input = { nextBillingTime: T + 30 * DAY, policy: DEFAULT_DUNNING_POLICY };
    assert.throws(() => scheduleAttempts({ ...input, failureTime: Number.NaN, now: T }), RangeError);
    assert.throws(() => scheduleAttempts({ ...input, failureTime: T, now: Number.NaN }), RangeError);
  });
});

void describe('attempt deadline', () => {
  void it('is the next billing time minus the safety margin', () => {
    assert.equal(attemptDeadline(T + 30 * DAY, DEFAULT_DUNNING_POLICY), T + 30 * DAY - 2 * HOUR);
  });

  void it('gives an attempt the time left until the deadline, never a negative budget', () => {
    const nextBillingTime = T + DAY;
    assert.equal(attemptTimeBudget(T, nextBillingTime, DEFAULT_DUNNING_POLICY), 22 * HOUR);
    assert.equal(attemptTimeBudget(nextBillingTime, nextBillingTime, DEFAULT_DUNNING_POLICY), 0);
  });
});

void describe('isRetryableFailure', () => {
  void it('refuses the default permanent declines and retries other failures', () => {
    assert.equal(isRetryableFailure('1294', DEFAULT_DUNNING_POLICY), false);
    assert.equal(isRetryableFailure('1201', DEFAULT_DUNNING_POLICY), false);
    assert.equal(isRetryableFailure(' 1294 ', DEFAULT_DUNNING_POLICY), false);
    assert.equal(isRetryableFailure('1205', DEFAULT_DUNNING_POLICY), true);
    assert.equal(isRetryableFailure('1297', DEFAULT_DUNNING_POLICY), true);
  });

  void it('retries a failure without a code and does not retry a success', () => {
    assert.equal(isRetryableFailure(undefined, DEFAULT_DUNNING_POLICY), true);
    assert.equal(isRetryableFailure(null, DEFAULT_DUNNING_POLICY), true);
    assert.equal(isRetryableFailure('0000', DEFAULT_DUNNING_POLICY), false);
  });

  void it('follows a policy that retries insufficient balance', () => {
    const topUp = policy({ nonRetryableRespcds: ['1294'] });
    assert.equal(isRetryableFailure('1201', topUp), true);
    assert.equal(isRetryableFailure('1294', topUp), false);
  });
});

void describe('dunning policy', () => {
  void it('defaults to 1 h, 1 d, 3 d with a 2 h margin, 5 min window, both notifications and leave_to_gateway', () => {
    assert.deepEqual(DEFAULT_DUNNING_POLICY, {
      attemptOffsets: [HOUR, DAY, 3 * DAY],
      safetyMargin: 2 * HOUR,
      minAttemptWindow: 5 * MINUTE,
      escalation: ['notify_customer', 'notify_operations'],
      finalAction: 'leave_to_gateway',
      nonRetryableRespcds: [...DEFAULT_NON_RETRYABLE_RESPCDS],
    });
  });

  void it('keeps the default frozen, so one subscription cannot change another’s policy', () => {
    assert.ok(Object.isFrozen(DEFAULT_DUNNING_POLICY));
    assert.ok(Object.isFrozen(DEFAULT_DUNNING_POLICY.attemptOffsets));
  });

  void it('parses durations given as text or milliseconds into plain JSON', () => {
    const parsed = parseDunningPolicy({
      attemptOffsets: ['90s', 15 * MINUTE, '1h'],
      safetyMargin: 15_000,
      minAttemptWindow: '30s',
      escalation: [],
      finalAction: 'cancel',
    });
    assert.deepEqual(parsed.attemptOffsets, [90 * SECOND, 15 * MINUTE, HOUR]);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed)), parsed);
  });

  const base = {
    attemptOffsets: ['1h', '1d'],
    safetyMargin: '2h',
    minAttemptWindow: '5m',
    escalation: ['notify_customer'],
    finalAction: 'cancel',
  };
  const invalid: Array<[string, Record<string, unknown>]> = [
    ['offsets that are not ascending', { attemptOffsets: ['1d', '1h'] }],
    ['repeated offsets', { attemptOffsets: ['1h', 3_600_000] }],
    ['no offsets', { attemptOffsets: [] }],
    ['more than 20 offsets', { attemptOffsets: Array.from({ length: 21 }, (_, i) => `${i + 1}h`) }],
    ['a junk duration', { safetyMargin: 'two hours' }],
    ['a zero attempt window', { minAttemptWindow: '0s' }],
    ['a zero safety margin', { safetyMargin: '0s' }],
    ['a safety margin shorter than the QFPay timeout plus the clock skew', { safetyMargin: '14s' }],
    ['a repeated escalation step', { escalation: ['notify_customer', 'notify_customer'] }],
    ['an unknown escalation step', { escalation: ['page_ceo'] }],
    ['an unknown final action', { finalAction: 'refund' }],
    ['an unknown field', { attemptOffset: ['1h'] }],
  ];
  for (const [what, patch] of invalid) {
    void it(`rejects a policy with ${what}`, () => {
      assert.equal(checkDunningPolicy({ ...base, ...patch }).ok, false);
    });
  }

  void it('names the offending offset in the error path', () => {
    const result = checkDunningPolicy({ ...base, attemptOffsets: ['1h', '2h', '90m'] });
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? undefined : result.issues[0]?.path, ['attemptOffsets', 2]);
  });

  void it('merges an override field by field, replacing arrays', () => {
    const merged = mergePolicy(DEFAULT_DUNNING_POLICY, {
      attemptOffsets: ['30m'],
      finalAction: 'cancel',
      safetyMargin: undefined,
    });
    assert.deepEqual(merged.attemptOffsets, [30 * MINUTE]);
    assert.equal(merged.finalAction, 'cancel');
    assert.equal(merged.safetyMargin, DEFAULT_DUNNING_POLICY.safetyMargin);
    assert.deepEqual(merged.escalation, DEFAULT_DUNNING_POLICY.escalation);
    assert.notEqual(merged.escalation, DEFAULT_DUNNING_POLICY.escalation);
  });

  void it('returns an equal copy for an empty or missing override', () => {
    assert.deepEqual(mergePolicy(DEFAULT_DUNNING_POLICY, {}), DEFAULT_DUNNING_POLICY);
    assert.deepEqual(mergePolicy(DEFAULT_DUNNING_POLICY, null), DEFAULT_DUNNING_POLICY);
  });

  void it('rejects an invalid override', () => {
    assert.throws(
      () => mergePolicy(DEFAULT_DUNNING_POLICY, { minAttemptWindow: 0 }),
      InvalidDunningPolicyError,
    );
    assert.equal(checkPolicyOverride({ attemptOffsets: ['2d', '1d'] }).ok, false);
    assert.equal(checkPolicyOverride({ attemptOffset: ['1h'] }).ok, false);
    assert.deepEqual(checkPolicyOverride({ safetyMargin: '3h' }), {
      ok: true,
      value: { safetyMargin: 3 * HOUR },
    });
  });
});

void describe('dunning policy checks (plain functions, run inside the workflow)', () => {
  const cases: Array<[string, unknown, Array<[string, RegExp]>]> = [
    ['not an object', ['1h'], [['', /must be an object/]]],
    ['null', null, [['', /must be an object/]]],
    ['offsets not an array', { attemptOffsets: '1h' }, [['attemptOffsets', /must be an array/]]],
    [
      'too many offsets',
      { attemptOffsets: Array.from({ length: 21 }, (_, i) => i + 1) },
      [['attemptOffsets', /1 to 20/]],
    ],
    ['a bad offset', { attemptOffsets: ['1h', 'soon'] }, [['attemptOffsets.1', /invalid duration "soon"/]]],
    ['a descending offset', { attemptOffsets: ['1h', '30m'] }, [['attemptOffsets.1', /strictly ascending/]]],
    ['a negative margin', { safetyMargin: -1 }, [['safetyMargin', /invalid duration -1/]]],
    ['a fractional window', { minAttemptWindow: 1.5 }, [['minAttemptWindow', /invalid duration/]]],
    ['a zero window', { minAttemptWindow: 0 }, [['minAttemptWindow', /longer than zero/]]],
    ['an unknown step', { escalation: ['page_ceo'] }, [['escalation.0', /one of 'notify_customer'/]]],
    [
      'a repeated step',
      { escalation: ['notify_customer', 'notify_customer'] },
      [['escalation', /must not repeat/]],
    ],
    ['an unknown action', { finalAction: 'refund' }, [['finalAction', /one of 'cancel'/]]],
    ['a blank respcd', { nonRetryableRespcds: ['1294', ' '] }, [['nonRetryableRespcds.1', /non-empty/]]],
    ['a numeric respcd', { nonRetryableRespcds: [1294] }, [['nonRetryableRespcds.0', /non-empty string/]]],
    ['an unknown field', { retries: 3 }, [['retries', /unknown field/]]],
    [
      'several problems at once',
      { safetyMargin: 'soon', finalAction: 'explode', retries: 3 },
      [
        ['safetyMargin', /invalid duration/],
        ['finalAction', /one of/],
        ['retries', /unknown field/],
      ],
    ],
  ];
  for (const [what, input, expected] of cases) {
    void it(`names the field and the reason for ${what}`, () => {
      const result = checkPolicyOverride(input);
      assert.equal(result.ok, false);
      const issues = result.ok ? [] : result.issues;
      assert.equal(issues.length, expected.length, JSON.stringify(issues));
      for (const [i, [path, message]] of expected.entries()) {
        assert.equal(issues[i]?.path.join('.'), path);
        assert.match(issues[i]?.message ?? '', message);
      }
    });
  }

  void it('requires every field but nonRetryableRespcds in a complete policy', () => {
    const result = checkDunningPolicy({ attemptOffsets: ['1h'] });
    assert.deepEqual(result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`), [
      'safetyMargin: is required',
      'minAttemptWindow: is required',
      'escalation: is required',
      'finalAction: is required',
    ]);
  });

  void it('trims respcds and ignores fields set to undefined', () => {
    assert.deepEqual(checkPolicyOverride({ nonRetryableRespcds: [' 1201 '], finalAction: undefined }), {
      ok: true,
      value: { nonRetryableRespcds: ['1201'] },
    });
  });

  void it('throws every problem from mergePolicy, formatted for a log line', () => {
    assert.throws(
      () => mergePolicy(DEFAULT_DUNNING_POLICY, { safetyMargin: 'soon', escalation: ['x'] } as never),
      (err: unknown) =>
        err instanceof InvalidDunningPolicyError &&
        err.issues.length === 2 &&
        /^invalid dunning policy: safetyMargin: invalid duration .*; escalation\.0: must be one of/.test(
          err.message,
        ),
    );
  });

  void it('never mutates its input and shares no array with the base', () => {
    const override = { attemptOffsets: ['1h', '2h'], escalation: ['notify_customer'] as EscalationStep[] };
    const copy = structuredClone(override);
    const merged = mergePolicy(DEFAULT_DUNNING_POLICY, override);
    assert.deepEqual(override, copy);
    assert.notEqual(merged.escalation, override.escalation);
    assert.notEqual(merged.nonRetryableRespcds, DEFAULT_DUNNING_POLICY.nonRetryableRespcds);
  });
});

/**
 * The dunning report's counting (`GET /v1/reports/dunning`): what opened in a range, how what
 * closed in it ended, the attempt that recovered each order, by gateway and policy ladder; and the
 * `DunningActivityAt` value that decides which subscriptions the report reads at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  dunningReport,
  lastDunningActivity,
  recoveringAttempt,
  type ReportedSubscription,
} from '../../src/domain/episode/dunning-report';
import type { DunningAttemptRecord, DunningEpisode } from '../../src/domain/episode/dunning-episode';
import { DEFAULT_DUNNING_POLICY, type DunningPolicy } from '../../src/domain/episode/dunning';
import { settle } from '../../src/domain/decide';
import { DAY, HOUR, MINUTE, T, pastDue } from '../helpers/engine-states';
import { MAX_EPISODE_HISTORY } from '../../src/domain/engine-state';
import { describeSubscription } from '../../src/workflows/visibility';
import { subscriptionView } from '../../src/api/views';

const LADDER = { attemptOffsets: [HOUR, DAY, 3 * DAY], finalAction: 'cancel' as const };
const POLICY: DunningPolicy = { ...DEFAULT_DUNNING_POLICY, ...LADDER };

function attempt(
  n: number,
  result: DunningAttemptRecord['result'],
  extra: Partial<DunningAttemptRecord> = {},
) {
  return {
    attempt: n,
    scheduledAt: T + n * HOUR,
    startedAt: T + n * HOUR,
    finishedAt: T + n * HOUR,
    result,
    ...extra,
  };
}

function episode(over: Partial<DunningEpisode> = {}): DunningEpisode {
  return {
    orderId: 'sub_ord_x_0002',
    sequenceNo: 2,
    openedAt: T,
    ladder: LADDER,
    failureAt: T,
    failureRespcd: '1205',
    nextBillingTime: T + 30 * DAY,
    deadline: T + 30 * DAY - 2 * HOUR,
    schedule: [],
    attempts: [],
    stage: 'retrying',
    escalationStepsDone: [],
    ...over,
  };
}

const recovered = (at: number, attempts: DunningAttemptRecord[], over: Partial<DunningEpisode> = {}) =>
  episode({ attempts, stage: 'recovered', outcome: 'recovered', closedAt: at, ...over });

const sub = (episodes: DunningEpisode[], gateway = 'qfpay', policy = POLICY): ReportedSubscription => ({
  gateway,
  policy,
  episodes,
});

describe('dunning report', () => {
  it('an episode opens under the policy’s ladder, which it keeps', () => {
    const opened = settle(pastDue(), T + MINUTE).episode;
    assert.ok(opened);
    assert.deepEqual(opened.ladder, {
      attemptOffsets: DEFAULT_DUNNING_POLICY.attemptOffsets,
      finalAction: DEFAULT_DUNNING_POLICY.finalAction,
    });
  });

  it('counts opened in the range, and closed in the range by outcome', () => {
    const range = { from: T, to: T + 10 * DAY };
    const report = dunningReport(
      [
        sub([recovered(T + DAY, [attempt(1, 'failed'), attempt(2, 'succeeded')])]),
        sub([episode({ openedAt: T + 2 * DAY })]),
        sub([
          episode({
            stage: 'exhausted',
            outcome: 'exhausted',
            closedAt: T + 5 * DAY,
            attempts: [attempt(1, 'failed')],
          }),
        ]),
        // Opened before the range, closed in it: counted by its outcome only.
        sub([recovered(T + DAY, [], { openedAt: T - DAY })]),
        // Opened and closed before the range: not counted.
        sub([recovered(T - HOUR, [], { openedAt: T - DAY })]),
        // Opened at the range's end (exclusive): not counted.
        sub([episode({ openedAt: T + 10 * DAY })]),
      ],
      range,
    );
    const t = report.totals;
    assert.equal(t.opened, 3);
    assert.equal(t.stillOpen, 1);
    assert.deepEqual(t.closed, { recovered: 2, exhausted: 1, lost: 0, stopped: 0 });
    assert.equal(t.recoveryRate, 2 / 3);
    assert.deepEqual(t.recoveredAt, [
      { attempt: 0, offsetMs: null, count: 1 },
      { attempt: 2, offsetMs: DAY, count: 1 },
    ]);
  });

  it('names the attempt that recovered, with its offset only when the plan made it', () => {
    assert.deepEqual(recoveringAttempt(recovered(T, [attempt(1, 'succeeded')]), LADDER), {
      attempt: 1,
      offsetMs: HOUR,
    });
    assert.deepEqual(
      recoveringAttempt(
        recovered(T, [attempt(1, 'failed'), attempt(2, 'succeeded', { trigger: 'retry_now' })]),
        LADDER,
      ),
      {
        attempt: 2,
        offsetMs: null,
      },
    );
    assert.deepEqual(
      recoveringAttempt(recovered(T, [attempt(1, 'succeeded', { trigger: 'merchant' })]), LADDER),
      {
        attempt: 1,
        offsetMs: null,
      },
    );
    assert.deepEqual(recoveringAttempt(recovered(T, [attempt(1, 'failed')]), LADDER), {
      attempt: 0,
      offsetMs: null,
    });
  });

  it('groups by gateway and ladder; an episode without one takes its subscription’s policy', () => {
    const other = { attemptOffsets: [2 * HOUR], finalAction: 'hold_dunning' as const };
    const { ladder: _none, ...withoutLadder } = recovered(T + HOUR, []);
    const report = dunningReport(
      [
        sub([recovered(T + HOUR, [])], 'qorepay'),
        sub([recovered(T + HOUR, []), episode({ ladder: other, openedAt: T + 2 * HOUR })]),
        sub([withoutLadder], 'qfpay', { ...POLICY, ...other }),
      ],
      { from: T, to: T + DAY },
    );
    assert.deepEqual(
      report.groups.map((g) => [g.gateway, g.ladder, g.opened, g.closed.recovered]),
      [
        ['qfpay', LADDER, 1, 1],
        ['qfpay', other, 2, 1],
        ['qorepay', LADDER, 1, 1],
      ],
    );
    assert.equal(report.groups[1]?.recoveryRate, 1);
  });

  it('has no rate when nothing closed, and no group without an episode in the range', () => {
    const report = dunningReport(
      [sub([episode({ openedAt: T - DAY })]), sub([]), sub([episode({ openedAt: T + DAY })])],
      { from: T, to: T + DAY },
    );
    assert.equal(report.totals.recoveryRate, null);
    assert.deepEqual(report.groups, []);
  });

  it('adds up recoveries at the same attempt, and orders them by attempt, then offset', () => {
    const report = dunningReport(
      [
        sub([recovered(T + HOUR, [attempt(1, 'succeeded', { trigger: 'scheduled' })])]),
        sub([recovered(T + HOUR, [attempt(1, 'succeeded')])]),
        sub([recovered(T + HOUR, [attempt(1, 'succeeded', { trigger: 'merchant' })])]),
        sub([recovered(T + HOUR, [attempt(1, 'failed'), attempt(2, 'succeeded')])]),
        sub([recovered(T + HOUR, [])]),
      ],
      { from: T, to: T + DAY },
    );
    assert.deepEqual(report.totals.recoveredAt, [
      { attempt: 0, offsetMs: null, count: 1 },
      { attempt: 1, offsetMs: null, count: 1 },
      { attempt: 1, offsetMs: HOUR, count: 2 },
      { attempt: 2, offsetMs: DAY, count: 1 },
    ]);
  });

  it('tells ladders apart by every offset', () => {
    const a = { attemptOffsets: [1, 23], finalAction: 'cancel' as const };
    const b = { attemptOffsets: [12, 3], finalAction: 'cancel' as const };
    const report = dunningReport(
      [sub([episode({ ladder: a, openedAt: T }), episode({ ladder: b, openedAt: T })])],
      {
        from: T,
        to: T + DAY,
      },
    );
    assert.deepEqual(
      report.groups.map((g) => g.ladder),
      [a, b],
    );
  });

  const arbEpisode = fc
    .record({
      openedAt: fc.integer({ min: 0, max: 100 }),
      closesAfter: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
      outcome: fc.constantFrom('recovered', 'exhausted', 'lost', 'stopped'),
      succeeded: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      ladder: fc.constantFrom(LADDER, { attemptOffsets: [HOUR], finalAction: 'leave_to_gateway' as const }),
    })
    .map(({ openedAt, closesAfter, outcome, succeeded, ladder }) =>
      episode({
        openedAt: T + openedAt * HOUR,
        ladder,
        attempts: succeeded === undefined ? [] : [attempt(succeeded, 'succeeded')],
        ...(closesAfter === undefined
          ? {}
          : { closedAt: T + (openedAt + closesAfter) * HOUR, outcome, stage: outcome }),
      }),
    );
  const arbSubs = fc.array(
    fc.record({
      gateway: fc.constantFrom('qfpay', 'qorepay', 'madfintech'),
      episodes: fc.array(arbEpisode, { maxLength: 4 }),
    }),
    { maxLength: 12 },
  );

  it('property: the groups add up to the totals, and a range split in two adds up to the whole', () => {
    fc.assert(
      fc.property(
        arbSubs,
        fc.integer({ min: 0, max: 160 }),
        fc.integer({ min: 0, max: 160 }),
        (raw, a, b) => {
          const subs = raw.map((r) => sub(r.episodes, r.gateway));
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const from = T;
          const mid = T + lo * HOUR;
          const to = T + hi * HOUR + 1;
          const whole = dunningReport(subs, { from, to });
          const first = dunningReport(subs, { from, to: mid });
          const second = dunningReport(subs, { from: mid, to });
          const sum = (g: typeof whole.groups, pick: (f: (typeof whole.groups)[number]) => number) =>
            g.reduce((n, x) => n + pick(x), 0);
          for (const pick of [
            (f: typeof whole.totals) => f.opened,
            (f: typeof whole.totals) => f.closed.recovered,
            (f: typeof whole.totals) => f.closed.exhausted,
            (f: typeof whole.totals) => f.closed.lost,
            (f: typeof whole.totals) => f.closed.stopped,
            (f: typeof whole.totals) => f.recoveredAt.reduce((n, r) => n + r.count, 0),
          ]) {
            assert.equal(sum(whole.groups, pick), pick(whole.totals));
            assert.equal(pick(first.totals) + pick(second.totals), pick(whole.totals));
          }
          assert.equal(
            whole.totals.recoveredAt.reduce((n, r) => n + r.count, 0),
            whole.totals.closed.recovered,
          );
          const all = subs.flatMap((s) => s.episodes);
          assert.equal(whole.totals.opened, all.filter((e) => e.openedAt >= from && e.openedAt < to).length);
        },
      ),
    );
  });

  it('DunningActivityAt is the latest opening or closing of an episode', () => {
    assert.equal(lastDunningActivity([]), null);
    assert.equal(lastDunningActivity([episode({ openedAt: T + DAY })]), T + DAY);
    assert.equal(
      lastDunningActivity([recovered(T + 3 * DAY, [], { openedAt: T }), episode({ openedAt: T + 2 * DAY })]),
      T + 3 * DAY,
    );
  });

  it('counts only what the subscription’s view shows: every closed episode the engine keeps', () => {
    // The report reads the episodes each workflow holds; a merchant checks it against the
    // subscriptions' views, so a view that showed fewer would leave episodes counted and unseen.
    const held = Array.from({ length: MAX_EPISODE_HISTORY }, (_, i) =>
      recovered(T + i * DAY + HOUR, [], { openedAt: T + i * DAY, sequenceNo: i + 2 }),
    );
    const view = subscriptionView(describeSubscription({ ...pastDue(), episodeHistory: held }, 'wf'));
    assert.deepEqual(
      view.dunning.history.map((e) => e.opened_at),
      held.map((e) => new Date(e.openedAt).toISOString()),
    );
    const range = { from: T, to: T + 100 * DAY };
    assert.equal(dunningReport([sub(held)], range).totals.opened, view.dunning.history.length);
  });
});

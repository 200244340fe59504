/**
 * The engine's charging promises as properties of its pure core, over random dunning episodes
 * (see `chaos/episode-simulator.ts`): no charge outside the order's window, at most one
 * unconfirmed charge, no final action on a paid order, no charge and no final action while billing
 * is paused (and a resume that re-plans), no merchant event twice, and a loop that always comes to
 * rest. `npm run chaos:episodes` runs the same check at volume.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runEpisode } from '../../chaos/episode-simulator';
import { QFPAY_CAPABILITIES } from '../../src/domain/gateway-profile';
import { DAY, HOUR, MINUTE } from '../../src/domain/duration';

const EPISODES = Number(process.env.EPISODES ?? 3_000);

void describe('decide over random dunning episodes', () => {
  void it(`keeps every charging promise over ${EPISODES} episodes with outages, faults and interleaved handlers`, () => {
    const totals = { charges: 0, unconfirmed: 0, outages: 0, pauses: 0 };
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= EPISODES; seed += 1) {
      const report = runEpisode({ seed });
      assert.deepEqual(report.violations, [], `episode ${seed}`);
      totals.charges += report.charges;
      totals.unconfirmed += report.unconfirmedCharges;
      totals.outages += report.outages;
      totals.pauses += report.pauses;
      outcomes.set(report.outcome, (outcomes.get(report.outcome) ?? 0) + 1);
    }
    // The episodes exercised what they are meant to: charges, unanswered charges and outages,
    // and every way an episode ends.
    assert.ok(totals.charges > EPISODES, `charges: ${totals.charges}`);
    assert.ok(totals.unconfirmed > EPISODES / 10, `unconfirmed charges: ${totals.unconfirmed}`);
    assert.ok(totals.outages > EPISODES / 2, `outages: ${totals.outages}`);
    assert.ok(totals.pauses > EPISODES / 10, `pauses: ${totals.pauses}`);
    for (const outcome of ['recovered', 'exhausted', 'lost', 'stopped']) {
      assert.ok(
        (outcomes.get(outcome) ?? 0) > 0,
        `no episode ended ${outcome}: ${JSON.stringify([...outcomes])}`,
      );
    }
  });

  void it('never charges on a gateway without a manual charge: the episode escalates at once and the order is left to the gateway', () => {
    const gateway = {
      name: 'nocharge',
      capabilities: { ...QFPAY_CAPABILITIES, manualCharge: false, recovery: 'the gateway retries' },
    };
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= EPISODES / 6; seed += 1) {
      const report = runEpisode({ seed, gateway });
      assert.deepEqual(report.violations, [], `episode ${seed}`);
      assert.equal(report.charges, 0, `episode ${seed}`);
      outcomes.set(report.outcome, (outcomes.get(report.outcome) ?? 0) + 1);
    }
    // Every episode ended without a charge: escalated at once (or the order was paid first).
    assert.equal(outcomes.get('open') ?? 0, 0, JSON.stringify([...outcomes]));
    assert.ok((outcomes.get('exhausted') ?? 0) > 0, JSON.stringify([...outcomes]));
  });

  void it('never escalates while a gateway that recovers on its own still retries, and escalates once it says it has ended', () => {
    const outcomes = new Map<string, number>();
    // Enough seeds for every outcome below to occur, also in the mutation run's smaller EPISODES.
    for (let seed = 1; seed <= Math.max(EPISODES / 6, 200); seed += 1) {
      const gateway = {
        name: 'selfrecovering',
        capabilities: {
          ...QFPAY_CAPABILITIES,
          manualCharge: false,
          recovery: 'the gateway retries',
          recoveryEndsAfterMs: [MINUTE, HOUR, 2 * DAY][seed % 3]!,
        },
      };
      const report = runEpisode({ seed, gateway });
      assert.deepEqual(report.violations, [], `episode ${seed}`);
      assert.equal(report.charges, 0, `episode ${seed}`);
      outcomes.set(report.outcome, (outcomes.get(report.outcome) ?? 0) + 1);
    }
    // Some were exhausted (after the gateway's word), some recovered by a payment, some lost to the next cycle.
    for (const outcome of ['exhausted', 'recovered'])
      assert.ok((outcomes.get(outcome) ?? 0) > 0, JSON.stringify([...outcomes]));
  });
});

/**
 * The API describes a dunning policy override with zod (for its messages and the OpenAPI
 * document) but the rules are the engine's plain checks, the ones the workflow applies. These
 * properties hold the two together: the API accepts exactly what the workflow accepts, each field
 * under its snake_case name, and hands the workflow the engine's own (camelCase) override.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DunningPolicyConfigError, engineDefaultPolicy } from '../../src/api/context';
import { DunningPolicyOverrideBodySchema } from '../../src/api/schemas';
import {
  DEFAULT_DUNNING_POLICY,
  DUNNING_FINAL_ACTIONS,
  ESCALATION_STEPS,
  checkPolicyOverride,
} from '../../src/domain/episode/dunning';
import { DAY, HOUR } from '../../src/domain/duration';

const durationArb = fc.oneof(
  fc.constantFrom('90s', '15m', '1h', '3d', '2w', '250ms', '0s', 'soon', '1M', '5000', ' 2h ', ''),
  fc.integer({ min: -5, max: 10 * 86_400_000 }),
  fc.constantFrom(1.5, Number.NaN, null, true, {}),
);

/** The engine's name of each field the API writes in snake_case. */
const ENGINE_NAMES: Record<string, string> = {
  attempt_offsets: 'attemptOffsets',
  safety_margin: 'safetyMargin',
  min_attempt_window: 'minAttemptWindow',
  escalation: 'escalation',
  final_action: 'finalAction',
  non_retryable_respcds: 'nonRetryableRespcds',
};

/** The same override as the engine names its fields (an unknown field keeps its name). */
const engineOverride = (body: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(body).map(([k, v]) => [ENGINE_NAMES[k] ?? k, v]));

const overrideArb = fc.record(
  {
    attempt_offsets: fc.oneof(fc.array(durationArb, { maxLength: 22 }), durationArb),
    safety_margin: durationArb,
    min_attempt_window: durationArb,
    escalation: fc.oneof(
      fc.array(fc.constantFrom(...ESCALATION_STEPS, 'page_ceo'), { maxLength: 3 }),
      fc.constant('notify_customer'),
    ),
    final_action: fc.constantFrom(...DUNNING_FINAL_ACTIONS, 'refund', 3),
    non_retryable_respcds: fc.array(
      fc.oneof(fc.constantFrom('1294', '1201', ' 1143 ', '', ' '), fc.integer()),
      {
        maxLength: 3,
      },
    ),
    retries: fc.integer(),
  },
  { requiredKeys: [] },
);

void describe('the API and the workflow agree on dunning policy overrides', () => {
  void it('accept and refuse the same overrides', () => {
    fc.assert(
      fc.property(overrideArb, (override) => {
        const api = DunningPolicyOverrideBodySchema.safeParse(override);
        const engine = checkPolicyOverride(engineOverride(override));
        assert.equal(api.success, engine.ok, JSON.stringify({ override, api: api.error?.issues, engine }));
        if (api.success) assert.deepEqual(api.data, engineOverride(override));
      }),
      { numRuns: 2_000 },
    );
  });

  void it('report every field the engine refuses', () => {
    fc.assert(
      fc.property(overrideArb, (override) => {
        const engine = checkPolicyOverride(engineOverride(override));
        fc.pre(!engine.ok);
        const api = DunningPolicyOverrideBodySchema.safeParse(override);
        const fieldsOf = (paths: PropertyKey[][]) => new Set(paths.map((p) => String(p[0] ?? '')));
        const apiFields = fieldsOf(
          (api.error?.issues ?? []).flatMap((i) =>
            i.code === 'unrecognized_keys' ? i.keys.map((k) => [k]) : [i.path],
          ),
        );
        const engineName = new Set([...apiFields].map((f) => ENGINE_NAMES[f] ?? f));
        for (const field of fieldsOf(engine.ok ? [] : engine.issues.map((i) => i.path))) {
          assert.ok(engineName.has(field), `${field} not reported by the API: ${JSON.stringify(override)}`);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

void describe('DUNNING_POLICY, the engine-wide default', () => {
  void it('takes the same snake_case JSON as the API', () => {
    const policy = engineDefaultPolicy({
      DUNNING_POLICY: '{"attempt_offsets":["2h","1d"],"safety_margin":"3h","final_action":"cancel"}',
    });
    assert.deepEqual(policy, {
      ...DEFAULT_DUNNING_POLICY,
      attemptOffsets: [2 * HOUR, DAY],
      safetyMargin: 3 * HOUR,
      finalAction: 'cancel',
    });
  });

  void it('still takes the engine’s camelCase names it took before', () => {
    const policy = engineDefaultPolicy({
      DUNNING_POLICY: '{"attemptOffsets":["2h"],"finalAction":"cancel"}',
    });
    assert.deepEqual(policy, {
      ...DEFAULT_DUNNING_POLICY,
      attemptOffsets: [2 * HOUR],
      finalAction: 'cancel',
    });
  });

  void it('names each bad field as it is written', () => {
    assert.throws(
      () =>
        engineDefaultPolicy({ DUNNING_POLICY: '{"attempt_offsets":["1d","1h"],"final_action":"explode"}' }),
      (err: unknown) =>
        err instanceof DunningPolicyConfigError &&
        /attempt_offsets\.1: /.test(err.message) &&
        /final_action: /.test(err.message),
    );
    assert.throws(
      () => engineDefaultPolicy({ DUNNING_POLICY: '{"attemptOffsets":["1d","1h"]}' }),
      (err: unknown) => err instanceof DunningPolicyConfigError && /attemptOffsets\.1: /.test(err.message),
    );
    assert.throws(
      () => engineDefaultPolicy({ DUNNING_POLICY: '{"attempt_offsets":["1h"],"finalAction":"cancel"}' }),
      (err: unknown) =>
        err instanceof DunningPolicyConfigError &&
        /finalAction: unknown field: it is final_action/.test(err.message),
    );
  });
});

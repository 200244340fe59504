/**
 * The API describes a dunning policy override with zod (for its messages and the OpenAPI
 * document) but the rules are the engine's plain checks, the ones the workflow applies. These
 * properties hold the two together: the API accepts exactly what the workflow accepts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DunningPolicyOverrideBodySchema } from '../../src/api/schemas';
import {
  DUNNING_FINAL_ACTIONS,
  ESCALATION_STEPS,
  checkPolicyOverride,
} from '../../src/domain/episode/dunning';

const durationArb = fc.oneof(
  fc.constantFrom('90s', '15m', '1h', '3d', '2w', '250ms', '0s', 'soon', '1M', '5000', ' 2h ', ''),
  fc.integer({ min: -5, max: 10 * 86_400_000 }),
  fc.constantFrom(1.5, Number.NaN, null, true, {}),
);

const overrideArb = fc.record(
  {
    attemptOffsets: fc.oneof(fc.array(durationArb, { maxLength: 22 }), durationArb),
    safetyMargin: durationArb,
    minAttemptWindow: durationArb,
    escalation: fc.oneof(
      fc.array(fc.constantFrom(...ESCALATION_STEPS, 'page_ceo'), { maxLength: 3 }),
      fc.constant('notify_customer'),
    ),
    finalAction: fc.constantFrom(...DUNNING_FINAL_ACTIONS, 'refund', 3),
    nonRetryableRespcds: fc.array(
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
        const engine = checkPolicyOverride(override);
        assert.equal(api.success, engine.ok, JSON.stringify({ override, api: api.error?.issues, engine }));
      }),
      { numRuns: 2_000 },
    );
  });

  void it('report every field the engine refuses', () => {
    fc.assert(
      fc.property(overrideArb, (override) => {
        const engine = checkPolicyOverride(override);
        fc.pre(!engine.ok);
        const api = DunningPolicyOverrideBodySchema.safeParse(override);
        const fieldsOf = (paths: PropertyKey[][]) => new Set(paths.map((p) => String(p[0] ?? '')));
        const apiFields = fieldsOf(
          (api.error?.issues ?? []).flatMap((i) =>
            i.code === 'unrecognized_keys' ? i.keys.map((k) => [k]) : [i.path],
          ),
        );
        for (const field of fieldsOf(engine.ok ? [] : engine.issues.map((i) => i.path))) {
          assert.ok(apiFields.has(field), `${field} not reported by the API: ${JSON.stringify(override)}`);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

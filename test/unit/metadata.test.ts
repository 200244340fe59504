/**
 * Metadata's pure rules: a change sets and removes keys, the limit is on the total after it, a
 * malformed holding from a signal is dropped, the digests visibility lists by, the handover that
 * brings the creation's metadata (and the events it stamps), and the events that carry it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  METADATA_LIMITS,
  applyMetadataChange,
  heldMetadataOf,
  metadataChangeProblem,
  metadataDigests,
  metadataKeyProblem,
  metadataValues,
  sameMetadata,
  type HeldMetadata,
  type MetadataChange,
} from '../../src/domain/metadata/metadata';
import { applyHandover, initialState, recordEvents, type EngineState } from '../../src/domain/engine-state';
import { ApiDigests } from '../../src/api/digests';
import { heldMetadata, memoMetadata, metadataChange } from '../../src/api/metadata';
import { SUB, T } from '../helpers/engine-states';

const entry = (value: string) => ({ value, digest: `d(${value})` });
const held = (values: Record<string, string>): HeldMetadata =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, entry(v)]));
const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('a metadata change', () => {
  it('sets the keys given, removes those given null, and keeps the others', () => {
    const after = applyMetadataChange(held({ a: '1', b: '2' }), { b: null, c: entry('3'), a: entry('9') });
    assert.deepEqual(metadataValues(after), { a: '9', c: '3' });
    assert.deepEqual(metadataValues(applyMetadataChange({}, { gone: null })), {});
  });

  it('is refused past fifty keys in all, whatever the change itself holds', () => {
    const fifty = held(Object.fromEntries(keys(50).map((k) => [k, 'v'])));
    assert.equal(metadataChangeProblem(fifty, {}), undefined);
    assert.equal(metadataChangeProblem(fifty, { k0: entry('new') }), undefined, 'a key set again');
    assert.equal(metadataChangeProblem(fifty, { k0: null, other: entry('x') }), undefined, 'one out, one in');
    assert.match(metadataChangeProblem(fifty, { other: entry('x') }) ?? '', /51 keys: at most 50/);
    assert.match(
      metadataChangeProblem({}, Object.fromEntries(keys(51).map((k) => [k, entry('v')]))) ?? '',
      /51/,
    );
  });

  it('refuses a key or value out of bounds, and a change that is no object', () => {
    assert.match(metadataChangeProblem({}, { ['k'.repeat(41)]: entry('v') }) ?? '', /at most 40/);
    assert.equal(metadataChangeProblem({}, { ['k'.repeat(40)]: entry('v') }), undefined);
    assert.match(metadataChangeProblem({}, { k: entry('v'.repeat(501)) }) ?? '', /500/);
    assert.equal(metadataChangeProblem({}, { k: entry('v'.repeat(500)) }), undefined);
    assert.match(metadataChangeProblem({}, { '': entry('v') }) ?? '', /empty/);
    assert.match(metadataChangeProblem({}, { 'a[b]': entry('v') }) ?? '', /square brackets/);
    assert.match(metadataChangeProblem({}, { k: { value: 7 } } as never) ?? '', /not a value/);
    for (const bad of [null, [], 'x'])
      assert.match(metadataChangeProblem({}, bad as never) ?? '', /object of keys/);
  });

  it('behaves as a map of keys: set and delete, over random changes (property)', () => {
    const key = fc.constantFrom(...keys(8));
    const change = fc.dictionary(key, fc.option(fc.string({ maxLength: 5 }), { nil: null }));
    fc.assert(
      fc.property(fc.array(change, { maxLength: 6 }), (changes) => {
        let h: HeldMetadata = {};
        const model = new Map<string, string>();
        for (const c of changes) {
          const asChange: MetadataChange = Object.fromEntries(
            Object.entries(c).map(([k, v]) => [k, v === null ? null : entry(v)]),
          );
          assert.equal(metadataChangeProblem(h, asChange), undefined);
          h = applyMetadataChange(h, asChange);
          for (const [k, v] of Object.entries(c)) {
            if (v === null) model.delete(k);
            else model.set(k, v);
          }
        }
        assert.deepEqual(metadataValues(h), Object.fromEntries(model));
        // The digests are one per key, in key order: equal metadata lists the same.
        assert.deepEqual(
          metadataDigests(h),
          [...model.keys()].sort().map((k) => `d(${model.get(k)})`),
        );
      }),
    );
  });
});

describe('held metadata from a signal', () => {
  it('keeps a well-formed holding and drops a malformed one', () => {
    assert.deepEqual(heldMetadataOf(held({ a: '1' })), held({ a: '1' }));
    assert.deepEqual(heldMetadataOf({}), {});
    for (const bad of [
      undefined,
      null,
      'x',
      [entry('1')],
      { a: 'plain' },
      { a: { value: 1, digest: 'd' } },
      { a: { value: 'v' } },
      { ['k'.repeat(41)]: entry('v') },
      { a: entry('v'.repeat(METADATA_LIMITS.valueLength + 1)) },
      Object.fromEntries(keys(51).map((k) => [k, entry('v')])),
    ])
      assert.equal(heldMetadataOf(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
  });

  it('names the key rules', () => {
    assert.equal(metadataKeyProblem('crm_id'), undefined);
    assert.ok(metadataKeyProblem(''));
    assert.ok(metadataKeyProblem('a]'));
  });

  it('compares what the merchant sees', () => {
    assert.ok(sameMetadata({ a: '1', b: '2' }, { b: '2', a: '1' }));
    assert.ok(!sameMetadata({ a: '1' }, { a: '2' }));
    assert.ok(!sameMetadata({ a: '1' }, { a: '1', b: '2' }));
    assert.ok(!sameMetadata({ a: '1', b: '2' }, { a: '1' }));
  });
});

describe("the subscription's metadata in the engine's state", () => {
  const fact = {
    kind: 'created' as const,
    subscriptionId: SUB,
    customerId: 'cust_1',
    tokenId: 'tok_1',
    productIds: ['prod_1'],
    totalBillingCycles: null,
    at: T,
    source: 'api' as const,
  };
  const adopted = (): EngineState =>
    initialState({ subscriptionId: SUB, origin: 'adopted', options: { merchantEvents: true } });
  const event = (id: string) => ({
    id,
    type: 'subscription.state_changed' as const,
    data: { from: 'A', to: 'B', cause: 'c' },
  });

  it('comes with the handover, and stamps the events still waiting for it', () => {
    const waiting = recordEvents(adopted(), [event('e1')], T);
    assert.equal(waiting.outbox[0]?.metadata, undefined, 'recorded before the handover: none yet');
    const handed = applyHandover(waiting, { fact, metadata: held({ ref: 'R-1' }) }, T + 1);
    assert.deepEqual(metadataValues(handed.metadata), { ref: 'R-1' });
    assert.ok(handed.outbox.length >= 1);
    assert.ok(handed.outbox.some((e) => e.id === 'e1'));
    for (const e of handed.outbox) assert.deepEqual(e.metadata, { ref: 'R-1' }, e.id);
    const later = recordEvents(handed, [event('e2')], T + 2);
    assert.deepEqual(later.outbox.at(-1)?.metadata, { ref: 'R-1' }, 'recorded after it: carried');
  });

  it('keeps a change made before the handover, and takes none from a malformed one', () => {
    const changed = { ...adopted(), metadata: held({ ref: 'newer' }) };
    assert.deepEqual(
      metadataValues(applyHandover(changed, { fact, metadata: held({ ref: 'R-1' }) }, T).metadata),
      { ref: 'newer' },
    );
    const malformed = applyHandover(adopted(), { fact, metadata: { ref: 'plain' } as never }, T);
    assert.equal(malformed.metadata, undefined);
  });

  it('leaves a state without metadata as runs from before had it: no field, no event field', () => {
    const handed = applyHandover(recordEvents(adopted(), [event('e1')], T), { fact }, T + 1);
    assert.equal('metadata' in handed, false);
    const events = recordEvents(handed, [event('e2')], T + 2).outbox;
    assert.ok(events.every((e) => !('metadata' in e)));
    // Empty metadata (all keys removed) adds no field to events either.
    const emptied = recordEvents({ ...handed, metadata: {} }, [event('e3')], T + 3).outbox;
    assert.equal('metadata' in emptied.at(-1)!, false);
  });
});

describe("the API's digests of metadata", () => {
  const digests = new ApiDigests('a-secret-of-enough-length-for-tests');

  it('are 128-bit base64url, one per key and value, with no two parts run together', () => {
    const d = digests.metadataDigest('ab', 'c');
    assert.match(d, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(d, digests.metadataDigest('a', 'bc'));
    assert.notEqual(d, digests.metadataDigest('ab', 'd'));
    assert.equal(d, digests.metadataDigest('ab', 'c'));
    assert.notEqual(d, new ApiDigests('another-secret-of-enough-length').metadataDigest('ab', 'c'));
    // Fifty of them fit the 2 KB a search attribute's value may hold.
    assert.ok(JSON.stringify(Array.from({ length: 50 }, () => d)).length < 2048);
  });

  it('go with every value set; a removal has none', () => {
    assert.deepEqual(metadataChange(digests, { a: '1', b: null }), {
      a: { value: '1', digest: digests.metadataDigest('a', '1') },
      b: null,
    });
    assert.deepEqual(heldMetadata(digests, { a: '1' }), {
      a: { value: '1', digest: digests.metadataDigest('a', '1') },
    });
  });

  it('a memo shows its string values, and {} for anything else', () => {
    assert.deepEqual(memoMetadata({ metadata: { a: '1', b: 2 } }), { a: '1' });
    for (const memo of [undefined, {}, { metadata: null }, { metadata: ['x'] }, { metadata: 'x' }])
      assert.deepEqual(memoMetadata(memo as never), {});
  });
});

/**
 * Where a test clock keeps its worlds: at each gateway's emulator, found from the gateway's own
 * variables, and nowhere for a gateway configured for real. And the clock's worlds at several
 * emulators read as one by the clock's workflow.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loopbackEmulatorRoot, testClockHeaders } from '../../src/gateways/port';
import { gatewayEmulatorUrls, gatewayModule } from '../../src/gateways/registry';
import { joinWorlds } from '../../src/activities/test-clocks';
import { TEST_CLOCK_HEADER } from '../../src/gateways/test-clock-header';
import { gatewayTestClock } from '../../src/api/routes/test-clocks';
import type { ApiContext } from '../../src/api/context';
import { ApiError } from '../../src/api/errors';

const QOREPAY_KEYS = {
  QOREPAY_API_KEY: 'k',
  QOREPAY_BRAND_ID: 'b',
  QOREPAY_WEBHOOK_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----',
};
const MADFINTECH_KEYS = {
  MADFINTECH_API_TOKEN: 't',
  MADFINTECH_SHOP_ID: '1',
  MADFINTECH_CALLBACK_SECRET: 's',
};

describe('loopbackEmulatorRoot', () => {
  it('is the URL without its API path on this machine, and nothing elsewhere', () => {
    assert.equal(loopbackEmulatorRoot('http://127.0.0.1:4010/api/v1', '/api/v1'), 'http://127.0.0.1:4010');
    assert.equal(loopbackEmulatorRoot('http://localhost:4010/api/v1/', '/api/v1'), 'http://localhost:4010');
    assert.equal(loopbackEmulatorRoot('http://[::1]:4010/api/v1', '/api/v1'), 'http://[::1]:4010');
    assert.equal(loopbackEmulatorRoot('http://127.0.0.1:8787', ''), 'http://127.0.0.1:8787');
    assert.equal(loopbackEmulatorRoot('https://gate.qorepay.com/api/v1', '/api/v1'), undefined);
    assert.equal(loopbackEmulatorRoot('http://127.0.0.1:4010/other', '/api/v1'), undefined);
    assert.equal(loopbackEmulatorRoot('not a url', ''), undefined);
    assert.equal(loopbackEmulatorRoot(undefined, ''), undefined);
    assert.equal(
      loopbackEmulatorRoot('http://qfpay-emulator:8787', '', ['qfpay-emulator']),
      'http://qfpay-emulator:8787',
    );
    assert.equal(loopbackEmulatorRoot('http://qfpay-emulator:8787', ''), undefined);
  });
});

describe('gatewayEmulatorUrls', () => {
  it('lists every configured gateway that is an emulator here, QFPay first', () => {
    const env = {
      QFPAY_BASE_URL: 'http://127.0.0.1:8787',
      ...QOREPAY_KEYS,
      QOREPAY_API_URL: 'http://127.0.0.1:4010/api/v1',
      ...MADFINTECH_KEYS,
      MADFINTECH_API_URL: 'http://127.0.0.1:4020/api/v1',
    };
    assert.deepEqual(gatewayEmulatorUrls(env), [
      'http://127.0.0.1:8787',
      'http://127.0.0.1:4010',
      'http://127.0.0.1:4020',
    ]);
  });

  it('leaves out a gateway configured for real, and one not configured', () => {
    const env = {
      QFPAY_BASE_URL: 'http://127.0.0.1:8787',
      ...QOREPAY_KEYS,
      QOREPAY_API_URL: 'https://gate.qorepay.com/api/v1',
      MADFINTECH_API_URL: 'http://127.0.0.1:4020/api/v1',
    };
    assert.deepEqual(gatewayEmulatorUrls(env), ['http://127.0.0.1:8787']);
    // QorePay without a URL is QorePay's own service.
    assert.equal(gatewayModule('qorepay')!.emulatorUrl({ ...QOREPAY_KEYS }), undefined);
    assert.equal(
      gatewayModule('qfpay')!.emulatorUrl({ QFPAY_BASE_URL: 'https://openapi.qfpay.com' }),
      undefined,
    );
  });
});

describe('testClockHeaders', () => {
  it('names the clock only for a creation on one', () => {
    assert.deepEqual(testClockHeaders({}), {});
    assert.deepEqual(testClockHeaders({ testClock: 'clock_1' }), { [TEST_CLOCK_HEADER]: 'clock_1' });
  });
});

describe('joinWorlds', () => {
  const world = fc.record({
    nowMs: fc.constant(1_800_000_000_000),
    nextDueMs: fc.option(fc.integer({ min: 1_800_000_000_000, max: 1_900_000_000_000 }), { nil: null }),
    processed: fc.nat(20),
  });

  it('is due when the earliest world is, and has processed what all of them did', () => {
    fc.assert(
      fc.property(fc.array(world, { minLength: 1, maxLength: 4 }), (worlds) => {
        const joined = joinWorlds(worlds);
        assert.equal(joined.nowMs, worlds[0]!.nowMs);
        assert.equal(
          joined.processed,
          worlds.reduce((sum, w) => sum + w.processed, 0),
        );
        const due = worlds.map((w) => w.nextDueMs).filter((d): d is number => d !== null);
        assert.equal(joined.nextDueMs, due.length === 0 ? null : Math.min(...due));
        // No world's due time is jumped over: none is earlier than the joined one.
        for (const d of due) assert.ok(joined.nextDueMs !== null && joined.nextDueMs <= d);
      }),
    );
  });

  it('refuses no world at all', () => {
    assert.throws(() => joinWorlds([]), /no gateway emulator/);
  });
});

describe('a creation on a test clock, on a gateway configured for real', () => {
  it('is a 409 naming the gateway, before any clock is looked up', async () => {
    const ctx = {
      config: { NODE_ENV: 'development', QFPAY_BASE_URL: 'http://127.0.0.1:8787' },
      gatewayEnv: {
        QFPAY_BASE_URL: 'http://127.0.0.1:8787',
        ...QOREPAY_KEYS,
        QOREPAY_API_URL: 'https://gate.qorepay.com/api/v1',
      },
      // Never reached: the refusal comes first.
      temporal: undefined,
    } as unknown as ApiContext;
    await assert.rejects(gatewayTestClock(ctx, gatewayModule('qorepay')!, 'clock_1'), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 409);
      assert.match(err.message, /QorePay is configured for real/);
      return true;
    });
  });
});

/**
 * Production refuses unsafe configuration, naming the variable; every other environment starts
 * with the same settings and a loud warning for each.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { workflowOptions } from '../../src/api/context';
import {
  ConfigError,
  DEVELOPMENT_DEFAULTS,
  isLoopbackUrl,
  loadConfig,
  unsafeSettingWarnings,
  warnAboutUnsafeSettings,
} from '../../src/config';
import {
  DEFAULT_EMULATOR_APP_CODE,
  DEFAULT_EMULATOR_APP_KEY,
} from '../../src/gateways/qfpay/emulator/credentials';
import { NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS } from '../../src/domain/engine-state';

const key = () => randomBytes(32).toString('base64');
/** A production configuration with nothing unsafe in it. */
const SAFE = {
  NODE_ENV: 'production',
  API_KEYS: 'prod-key-7f3c2a9b',
  MERCHANT_EVENTS_SECRET: `whsec_${key()}`,
  PAYLOAD_ENCRYPTION_KEYS: `2026-11:${key()}`,
  API_HMAC_SECRET: key(),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('production refuses unsafe settings, naming the variable', () => {
  it('starts with real secrets', () => {
    assert.deepEqual(problemsOf(SAFE), []);
  });

  const cases: Array<[string, Record<string, string | undefined>, string]> = [
    ['the default API key', { API_KEYS: 'dev-api-key' }, 'API_KEYS'],
    ['the default API key among others', { API_KEYS: 'prod-key,dev-api-key' }, 'API_KEYS'],
    ['the default merchant-events secret', { MERCHANT_EVENTS_SECRET: undefined }, 'MERCHANT_EVENTS_SECRET'],
    [
      'the default merchant-events secret kept during a rotation',
      { MERCHANT_EVENTS_SECRET: `whsec_${key()},${DEVELOPMENT_DEFAULTS.MERCHANT_EVENTS_SECRET}` },
      'MERCHANT_EVENTS_SECRET',
    ],
    [
      'a merchant-events secret that is not whsec_',
      { MERCHANT_EVENTS_SECRET: 'dev-merchant-events-secret' },
      'MERCHANT_EVENTS_SECRET',
    ],
    [
      'notification verification switched off',
      { QFPAY_VERIFY_NOTIFICATIONS: 'false' },
      'QFPAY_VERIFY_NOTIFICATIONS',
    ],
    [
      'no encryption key (the public development key)',
      { PAYLOAD_ENCRYPTION_KEYS: undefined },
      'PAYLOAD_ENCRYPTION_KEYS',
    ],
    [
      'an encryption key of 16 bytes',
      { PAYLOAD_ENCRYPTION_KEYS: `short:${randomBytes(16).toString('base64')}` },
      'PAYLOAD_ENCRYPTION_KEYS',
    ],
    [
      'a short old key kept for decryption',
      { PAYLOAD_ENCRYPTION_KEYS: `new:${key()},old:${randomBytes(8).toString('base64')}` },
      'PAYLOAD_ENCRYPTION_KEYS',
    ],
    ['no HMAC secret', { API_HMAC_SECRET: undefined }, 'API_HMAC_SECRET'],
    ['a short HMAC secret', { API_HMAC_SECRET: 'too-short' }, 'API_HMAC_SECRET'],
  ];
  for (const [what, change, variable] of cases) {
    it(`refuses ${what}`, () => {
      const env: Record<string, string> = { ...SAFE };
      for (const [name, value] of Object.entries(change)) {
        if (value === undefined) delete env[name];
        else env[name] = value;
      }
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]!.startsWith(`${variable}: `), problems[0]);
    });
  }

  it('never quotes a secret in its message', () => {
    const secret = 'too-short-secret';
    const problems = problemsOf({ ...SAFE, API_HMAC_SECRET: secret });
    assert.ok(problems.every((p) => !p.includes(secret)));
  });
});

describe('outside production the same settings start, with a loud warning each', () => {
  for (const NODE_ENV of ['development', 'test']) {
    it(`${NODE_ENV}: every default is named in a warning`, () => {
      const config = loadConfig({ NODE_ENV, QFPAY_VERIFY_NOTIFICATIONS: 'false' });
      const warned: string[] = [];
      warnAboutUnsafeSettings(config, { warn: (line) => warned.push(line) });
      assert.deepEqual(warned, unsafeSettingWarnings(config));
      for (const variable of [
        'API_KEYS',
        'MERCHANT_EVENTS_SECRET',
        'QFPAY_VERIFY_NOTIFICATIONS',
        'PAYLOAD_ENCRYPTION_KEYS',
        'API_HMAC_SECRET',
      ]) {
        assert.ok(
          warned.some((line) => line.startsWith('UNSAFE CONFIGURATION') && line.includes(variable)),
          `${variable} in ${warned.join('\n')}`,
        );
      }
    });
  }

  it('says nothing when the settings are safe', () => {
    assert.deepEqual(unsafeSettingWarnings(loadConfig({ ...SAFE, NODE_ENV: 'development' })), []);
  });
});

describe('the workflow options new subscriptions get', () => {
  it('carry RECONCILE_GRACE_MS when set, and leave the engine default otherwise', () => {
    assert.deepEqual(workflowOptions(loadConfig({ RECONCILE_GRACE_MS: '20000' })), {
      merchantEvents: false,
      maxHistoryEvents: NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS,
      reconcileGraceMs: 20_000,
      reconciler: 'schedule',
    });
    assert.deepEqual(workflowOptions(loadConfig({ MERCHANT_EVENTS_URL: 'http://127.0.0.1:9/events' })), {
      merchantEvents: true,
      maxHistoryEvents: NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS,
      reconciler: 'schedule',
    });
    assert.ok(
      problemsOf({ ...SAFE, RECONCILE_GRACE_MS: '10' }).some((p) => p.includes('RECONCILE_GRACE_MS')),
    );
  });

  it("leave a billing time's question to the reconciler's Schedule, unless RECONCILER=timer", () => {
    assert.equal(loadConfig({}).RECONCILER, 'schedule');
    assert.equal(loadConfig({}).RECONCILE_EVERY_MS, 60_000);
    assert.equal(workflowOptions(loadConfig({})).reconciler, 'schedule');
    assert.equal('reconciler' in workflowOptions(loadConfig({ RECONCILER: 'timer' })), false);
    assert.ok(problemsOf({ ...SAFE, RECONCILER: 'cron' }).some((p) => p.includes('RECONCILER')));
    assert.ok(
      problemsOf({ ...SAFE, RECONCILE_EVERY_MS: '500' }).some((p) => p.includes('RECONCILE_EVERY_MS')),
    );
  });

  it('carry MAX_HISTORY_EVENTS when set, and refuse one too short for an adoption and a dunning episode', () => {
    assert.equal(workflowOptions(loadConfig({ MAX_HISTORY_EVENTS: '250' })).maxHistoryEvents, 250);
    assert.ok(
      problemsOf({ ...SAFE, MAX_HISTORY_EVENTS: '79' }).some((p) => p.includes('MAX_HISTORY_EVENTS')),
    );
  });
});

describe("QFPay's credentials: the emulator's public ones only against the emulator", () => {
  const QFPAY = 'https://openapi-hk.qfapi.com';
  const emulatorUrls = [
    'http://127.0.0.1:4010',
    'http://localhost:4010',
    // The compose service, and its name before (an alias of it).
    'http://qfpay-emulator:4010',
    'http://sandbox:4010',
  ];

  it("counts this machine and the emulator's compose host names as the emulator, QFPay as not", () => {
    for (const url of emulatorUrls) assert.equal(isLoopbackUrl(url), true, url);
    for (const url of [QFPAY, 'https://openapi-int.qfapi.com', 'http://emulator.example.com:4010']) {
      assert.equal(isLoopbackUrl(url), false, url);
    }
  });

  it("defaults to the emulator's credentials against the emulator, in production too", () => {
    for (const url of emulatorUrls) {
      const config = loadConfig({ ...SAFE, QFPAY_BASE_URL: url });
      assert.equal(config.QFPAY_APP_CODE, DEFAULT_EMULATOR_APP_CODE, url);
      assert.equal(config.QFPAY_APP_KEY, DEFAULT_EMULATOR_APP_KEY, url);
    }
  });

  for (const NODE_ENV of ['development', 'production']) {
    it(`${NODE_ENV}: refuses real QFPay without credentials, naming both`, () => {
      assert.deepEqual(problemsOf({ ...SAFE, NODE_ENV, QFPAY_BASE_URL: QFPAY }), [
        'QFPAY_APP_CODE: required when QFPAY_BASE_URL points at QFPay',
        'QFPAY_APP_KEY: required when QFPAY_BASE_URL points at QFPay',
      ]);
    });

    it(`${NODE_ENV}: refuses real QFPay with the emulator's credentials set explicitly`, () => {
      const problems = problemsOf({
        ...SAFE,
        NODE_ENV,
        QFPAY_BASE_URL: QFPAY,
        QFPAY_APP_CODE: DEFAULT_EMULATOR_APP_CODE,
        QFPAY_APP_KEY: DEFAULT_EMULATOR_APP_KEY,
      });
      assert.equal(problems.length, 2, problems.join('\n'));
      assert.ok(problems[0]!.startsWith("QFPAY_APP_CODE: is the emulator's public default"), problems[0]);
      assert.ok(problems[1]!.startsWith("QFPAY_APP_KEY: is the emulator's public default"), problems[1]);
      // One of the two alone is refused as well.
      const keyOnly = problemsOf({
        ...SAFE,
        NODE_ENV,
        QFPAY_BASE_URL: QFPAY,
        QFPAY_APP_CODE: 'merchant-app-code',
        QFPAY_APP_KEY: DEFAULT_EMULATOR_APP_KEY,
      });
      assert.deepEqual(
        keyOnly.map((p) => p.split(':')[0]),
        ['QFPAY_APP_KEY'],
      );
    });
  }

  it("starts against real QFPay with the merchant's own credentials", () => {
    const config = loadConfig({
      ...SAFE,
      QFPAY_BASE_URL: QFPAY,
      QFPAY_APP_CODE: 'merchant-app-code',
      QFPAY_APP_KEY: 'merchant-app-key-0123456789',
    });
    assert.equal(config.QFPAY_APP_CODE, 'merchant-app-code');
  });
});

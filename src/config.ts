/**
 * The engine's configuration: one zod schema over environment variables, parsed once at
 * start-up. A bad or missing variable stops the process with a readable list of what is wrong.
 */
import { z } from 'zod';
import {
  DEVELOPMENT_ENCRYPTION_KEYS,
  EncryptionKeyError,
  MIN_KEY_BYTES,
  parseEncryptionKeys,
} from './temporal/encryption-keys';
import { merchantEventSecretProblem } from './events/merchant-events';
import { InvalidDurationError, SECOND, parseDuration } from './domain/duration';

/** A reminder's lead: a duration of at least a second, or `off`/unset (undefined). */
const reminderLead = z
  .string()
  .optional()
  .transform((text, ctx): number | undefined => {
    const trimmed = text?.trim();
    if (trimmed === undefined || trimmed === '' || trimmed.toLowerCase() === 'off') return undefined;
    try {
      const ms = parseDuration(trimmed);
      if (ms >= SECOND) return ms;
      ctx.addIssue({ code: 'custom', message: 'must be at least 1s, or off' });
    } catch (err) {
      if (!(err instanceof InvalidDurationError)) throw err;
      ctx.addIssue({ code: 'custom', message: `${err.message}: give a duration such as 3d or 12h, or off` });
    }
    return z.NEVER;
  });
import { QFPAY_EMULATOR_HOSTS, QFPAY_VARIABLES } from './gateways/qfpay/settings';
import { isLoopbackHost } from './loopback';
import { DEFAULT_EMULATOR_APP_CODE, DEFAULT_EMULATOR_APP_KEY } from './gateways/qfpay/emulator/credentials';

const port = z.coerce.number().int().min(0).max(65535);
const nonEmpty = z.string().trim().min(1);

/** `host:port`, as the Temporal client expects it (no scheme). */
const temporalAddress = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. localhost:7233');

/** Public defaults that make a checkout run with no set-up; production refuses every one of them. */
export const DEVELOPMENT_DEFAULTS = {
  API_KEYS: 'dev-api-key',
  /** `whsec_` + base64 of a public phrase: a Standard Webhooks secret anyone can read here. */
  MERCHANT_EVENTS_SECRET: 'whsec_ZGV2LW1lcmNoYW50LWV2ZW50cy1zZWNyZXQtcHVibGljLW5ldmVyLWZvci1wcm9kdWN0aW9u',
  PAYLOAD_ENCRYPTION_KEYS: DEVELOPMENT_ENCRYPTION_KEYS,
  API_HMAC_SECRET: 'dev-api-hmac-secret-public-never-for-production',
} as const;

/** The shortest `API_HMAC_SECRET` production accepts. */
export const MIN_HMAC_SECRET_LENGTH = 32;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    TEMPORAL_ADDRESS: temporalAddress.default('localhost:7233'),
    TEMPORAL_NAMESPACE: nonEmpty.default('default'),
    TEMPORAL_TASK_QUEUE: nonEmpty.default('qfpay-subscriptions'),
    /** API key for Temporal Cloud (or a cluster with API-key auth); implies TLS. */
    TEMPORAL_API_KEY: z.string().optional(),
    /** mTLS: paths to the client certificate and key (PEM), and optionally the server CA. */
    TEMPORAL_TLS_CERT_PATH: z.string().optional(),
    TEMPORAL_TLS_KEY_PATH: z.string().optional(),
    TEMPORAL_TLS_CA_PATH: z.string().optional(),
    TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
    TEMPORAL_TLS: bool.optional(),

    PORT: port.default(3000),
    /** Comma-separated merchant API keys accepted on /v1 routes. */
    API_KEYS: z.string().default(DEVELOPMENT_DEFAULTS.API_KEYS),
    /**
     * The merchant every API key acts for: idempotency keys are scoped to it, so all of a
     * merchant's API keys (during a key rotation, or one per service) share them.
     */
    MERCHANT_ID: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
      .default('default'),
    /**
     * Keys the HMACs that stand in for merchant data where Temporal keeps plaintext (creation
     * workflow ids, request hashes) and signs the lists' cursors.
     */
    API_HMAC_SECRET: z.string().min(1).default(DEVELOPMENT_DEFAULTS.API_HMAC_SECRET),
    /** Requests per minute one API key may make on /v1 before 429. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(1200),
    /** The API's Prometheus endpoint (`/metrics`), on its own port, never the public one; off when unset. */
    METRICS_PORT: port.optional(),

    /**
     * The payload codec's keys: comma-separated `id:base64` (32 random bytes each), the newest
     * first. The first encrypts; all decrypt. See docs/security.md for rotation.
     */
    PAYLOAD_ENCRYPTION_KEYS: z.string().default(DEVELOPMENT_DEFAULTS.PAYLOAD_ENCRYPTION_KEYS),
    /** The codec server (`npm run codec-server`) for the Web UI and the CLI. */
    CODEC_SERVER_PORT: port.default(8234),
    /** Where the codec server listens; loopback unless it must be reached from elsewhere. */
    CODEC_SERVER_HOST: nonEmpty.default('127.0.0.1'),
    /** Comma-separated bearer tokens the codec server accepts; required in production. */
    CODEC_SERVER_TOKENS: z.string().default(''),
    /** Comma-separated origins of the Temporal Web UI(s) allowed to call the codec server. */
    CODEC_SERVER_CORS_ORIGINS: z.string().default('http://localhost:8233,http://127.0.0.1:8233'),

    /** QFPay's variables: one definition, shared with QFPay's gateway module. */
    ...QFPAY_VARIABLES,

    MERCHANT_EVENTS_URL: z.union([z.url(), z.literal('')]).default(''),
    /**
     * Standard Webhooks secrets (`whsec_<base64 of 24-64 bytes>`), comma-separated; more than one
     * while rotating (each signs the event, the newest first).
     */
    MERCHANT_EVENTS_SECRET: z
      .string()
      .default(DEVELOPMENT_DEFAULTS.MERCHANT_EVENTS_SECRET)
      .superRefine((value, ctx) => {
        const secrets = parseList(value);
        if (secrets.length === 0)
          ctx.addIssue({ code: 'custom', message: 'give at least one whsec_ secret' });
        secrets.forEach((secret, i) => {
          const problem = merchantEventSecretProblem(secret);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `secret ${i + 1} ${problem}` });
        });
      }),
    /** How long one delivery attempt may take, response included (Standard Webhooks: 15-30 s). */
    MERCHANT_EVENTS_TIMEOUT_MS: z.coerce.number().int().min(15_000).max(30_000).default(15_000),
    /** Engine-wide dunning policy as JSON (see docs); per-subscription overrides come through the API. */
    DUNNING_POLICY: z.string().optional(),
    /**
     * How long after a billing time with no payment result a subscription asks QFPay (default
     * 15 min). Short cycles (minute intervals, in QFPay's sandbox and the emulator; the chaos
     * suite) want it shorter.
     */
    RECONCILE_GRACE_MS: z.coerce.number().int().min(1_000).optional(),
    /**
     * Who wakes a new subscription when its billing time passed with no payment result:
     * `schedule` (default), the engine's reconciler, one Temporal Schedule the worker keeps, so a
     * paid cycle moves no timer; `timer`, a timer of each subscription's own (a server without
     * Schedules, such as the time-skipping test server).
     */
    RECONCILER: z.enum(['schedule', 'timer']).default('schedule'),
    /**
     * Reminder events (docs/merchant-events.md): how long before the billing time each is sent, as
     * a duration (`3d`, `12h`); unset or `off`: not sent. They apply to subscriptions started (or
     * handed over) after they are set.
     */
    REMINDER_RENEWAL_UPCOMING: reminderLead,
    REMINDER_TRIAL_WILL_END: reminderLead,
    REMINDER_PAYMENT_METHOD_EXPIRING: reminderLead,
    /** How often the reconciler's Schedule sweeps (default 1 min): a question is this late at most. */
    RECONCILE_EVERY_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
    /**
     * The history length at which a new subscription's workflow continues as new (default 100:
     * short runs, so an evicted subscription replays tens of events; docs/performance.md). At
     * least 80, so an adoption and a dunning episode fit in one run.
     */
    MAX_HISTORY_EVENTS: z.coerce.number().int().min(80).max(10_000).optional(),

    /** A prebuilt workflow bundle (`npm run build:bundle`) for a faster worker start. */
    WORKFLOW_BUNDLE_PATH: z.string().optional(),
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().positive().optional(),
    /** Prometheus endpoint for the worker's SDK metrics; off when unset. */
    WORKER_METRICS_PORT: port.optional(),
  })
  .superRefine((c, ctx) => {
    if (Boolean(c.TEMPORAL_TLS_CERT_PATH) !== Boolean(c.TEMPORAL_TLS_KEY_PATH)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TEMPORAL_TLS_CERT_PATH'],
        message: 'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together',
      });
    }
    try {
      parseEncryptionKeys(c.PAYLOAD_ENCRYPTION_KEYS);
    } catch (err) {
      if (!(err instanceof EncryptionKeyError)) throw err;
      ctx.addIssue({ code: 'custom', path: ['PAYLOAD_ENCRYPTION_KEYS'], message: err.message });
    }
  });

export type Config = z.output<typeof configSchema>;

/** A setting that production refuses and every other environment starts with, warning loudly. */
export interface UnsafeSetting {
  variable: string;
  message: string;
}

/** A comma-separated setting as a list (blanks around entries and empty entries dropped). */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/**
 * The settings that would make a deployment unsafe: public defaults for secrets, switched-off
 * signature checks, short keys. Production refuses to start with any of them.
 */
export function unsafeSettings(c: Config): UnsafeSetting[] {
  const found: UnsafeSetting[] = [];
  if (parseList(c.API_KEYS).includes(DEVELOPMENT_DEFAULTS.API_KEYS)) {
    found.push({ variable: 'API_KEYS', message: 'contains the public development key dev-api-key' });
  }
  if (parseList(c.MERCHANT_EVENTS_SECRET).includes(DEVELOPMENT_DEFAULTS.MERCHANT_EVENTS_SECRET)) {
    found.push({
      variable: 'MERCHANT_EVENTS_SECRET',
      message: 'is the public default: anyone could sign events the merchant would trust',
    });
  }
  if (!c.QFPAY_VERIFY_NOTIFICATIONS) {
    found.push({
      variable: 'QFPAY_VERIFY_NOTIFICATIONS',
      message: 'is false: anyone could post notifications to the webhook',
    });
  }
  const keys = parseEncryptionKeys(c.PAYLOAD_ENCRYPTION_KEYS);
  const development = parseEncryptionKeys(DEVELOPMENT_DEFAULTS.PAYLOAD_ENCRYPTION_KEYS)[0]!.material;
  if (keys.some((k) => k.material.equals(development))) {
    found.push({
      variable: 'PAYLOAD_ENCRYPTION_KEYS',
      message: 'is missing or holds the public development key: payloads in Temporal are readable by anyone',
    });
  }
  for (const key of keys.filter((k) => k.material.length < MIN_KEY_BYTES)) {
    found.push({
      variable: 'PAYLOAD_ENCRYPTION_KEYS',
      message: `key ${key.id} has ${key.material.length} bytes; give ${MIN_KEY_BYTES} random bytes (openssl rand -base64 32)`,
    });
  }
  if (c.API_HMAC_SECRET === DEVELOPMENT_DEFAULTS.API_HMAC_SECRET) {
    found.push({ variable: 'API_HMAC_SECRET', message: 'is missing (the public development default)' });
  } else if (c.API_HMAC_SECRET.length < MIN_HMAC_SECRET_LENGTH) {
    found.push({
      variable: 'API_HMAC_SECRET',
      message: `is ${c.API_HMAC_SECRET.length} characters; give at least ${MIN_HMAC_SECRET_LENGTH} (openssl rand -base64 32)`,
    });
  }
  return found;
}

/** The warning lines for unsafe settings outside production (empty when there are none). */
export function unsafeSettingWarnings(c: Config): string[] {
  return unsafeSettings(c).map(
    (s) => `UNSAFE CONFIGURATION (refused when NODE_ENV=production): ${s.variable} ${s.message}`,
  );
}

/** Logs every unsafe setting (outside production; production never gets this far) as a warning. */
export function warnAboutUnsafeSettings(c: Config, logger: { warn(message: string): void }): void {
  for (const line of unsafeSettingWarnings(c)) logger.warn(line);
}

/** The QFPay emulator's host names in docker-compose.yml (see {@link QFPAY_EMULATOR_HOSTS}). */
export const EMULATOR_COMPOSE_HOSTS: readonly string[] = QFPAY_EMULATOR_HOSTS;

/** Whether a URL points at this machine (or at the QFPay emulator's compose service). */
export function isLoopbackUrl(url: string): boolean {
  return isLoopbackHost(new URL(url).hostname, EMULATOR_COMPOSE_HOSTS);
}

/** The environment's set variables: empty strings count as unset. */
export function setVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  return cleaned;
}

/** One `VARIABLE: reason` line per problem zod found. */
export function problemLines(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}

/** Thrown when the environment does not describe a valid configuration. */
export class ConfigError extends Error {
  readonly type = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses configuration from an environment.
 * @param env defaults to `process.env`; empty strings count as unset
 * @throws ConfigError listing every variable that is wrong and why
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = setVariables(env);
  const parsed = configSchema.safeParse(cleaned);
  const problems = parsed.success ? [] : problemLines(parsed.error);
  // The emulator's public credentials are only for the emulator: real QFPay needs the merchant's.
  if (parsed.success && !isLoopbackUrl(parsed.data.QFPAY_BASE_URL)) {
    const emulatorDefaults = {
      QFPAY_APP_CODE: DEFAULT_EMULATOR_APP_CODE,
      QFPAY_APP_KEY: DEFAULT_EMULATOR_APP_KEY,
    };
    for (const [name, emulatorDefault] of Object.entries(emulatorDefaults)) {
      if (cleaned[name] === undefined) problems.push(`${name}: required when QFPAY_BASE_URL points at QFPay`);
      else if (parsed.data[name as keyof typeof emulatorDefaults] === emulatorDefault) {
        problems.push(`${name}: is the emulator's public default; QFPay needs the merchant's own`);
      }
    }
  }
  if (parsed.success && parsed.data.NODE_ENV === 'production') {
    for (const s of unsafeSettings(parsed.data)) problems.push(`${s.variable}: ${s.message}`);
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/**
 * For entry points: parse the configuration or print what is wrong and exit non-zero,
 * without a stack trace.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

/**
 * The engine's configuration: one zod schema over environment variables, parsed once at
 * start-up. A bad or missing variable stops the process with a readable list of what is wrong.
 */
import { z } from 'zod';
import { MAX_QFPAY_CALL_MS } from './workflows/dunning';

const port = z.coerce.number().int().min(0).max(65535);
const nonEmpty = z.string().trim().min(1);

/** `host:port`, as the Temporal client expects it (no scheme). */
const temporalAddress = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. localhost:7233');

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
    API_KEYS: z.string().default('dev-api-key'),

    QFPAY_BASE_URL: z.url().default('http://127.0.0.1:4010'),
    QFPAY_APP_CODE: nonEmpty.default('sandbox-app-code'),
    QFPAY_APP_KEY: nonEmpty.default('sandbox-app-key'),
    QFPAY_SIGN_TYPE: z.enum(['MD5', 'SHA256']).default('MD5'),
    QFPAY_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .positive()
      .max(
        MAX_QFPAY_CALL_MS,
        `at most ${MAX_QFPAY_CALL_MS} ms: a manual charge must be answered within the dunning safety margin`,
      )
      .default(10_000),
    QFPAY_TIME_OFFSET: z
      .string()
      .regex(/^[+-]\d{2}:\d{2}$/, 'must be a UTC offset like +08:00')
      .default('+08:00'),
    /** Turning notification signature checks off is only for debugging, and must be said explicitly. */
    QFPAY_VERIFY_NOTIFICATIONS: bool.default(true),

    MERCHANT_EVENTS_URL: z.union([z.url(), z.literal('')]).default(''),
    /** Comma-separated; more than one while rotating (each signs the event). */
    MERCHANT_EVENTS_SECRET: z.string().default('dev-merchant-events-secret'),
    /** Engine-wide dunning policy as JSON (see docs); per-subscription overrides come through the API. */
    DUNNING_POLICY: z.string().optional(),

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
    if (c.NODE_ENV === 'production' && c.API_KEYS === 'dev-api-key') {
      ctx.addIssue({ code: 'custom', path: ['API_KEYS'], message: 'set real API keys in production' });
    }
  });

export type Config = z.output<typeof configSchema>;

/** Whether a URL points at this machine (or the compose service name of the emulator). */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.') || host === 'sandbox';
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
  // The sandbox credentials are defaults only for the local emulator: real QFPay needs real ones.
  if (parsed.success && !isLoopbackUrl(parsed.data.QFPAY_BASE_URL)) {
    for (const name of ['QFPAY_APP_CODE', 'QFPAY_APP_KEY'] as const) {
      if (cleaned[name] === undefined) problems.push(`${name}: required when QFPAY_BASE_URL points at QFPay`);
    }
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

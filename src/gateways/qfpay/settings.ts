/**
 * QFPay's variables, parsed: the one definition the engine's configuration (`src/config.ts`) and
 * QFPay's gateway module share, so the worker, the API and the module read them alike.
 */
import { z } from 'zod';
import { MAX_QFPAY_CALL_MS } from '../../domain/episode/dunning';
import type { GatewayEnv } from '../port';
import { DEFAULT_EMULATOR_APP_CODE, DEFAULT_EMULATOR_APP_KEY } from './emulator/credentials';

const nonEmpty = z.string().trim().min(1);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Each of QFPay's variables with its rule and default (the emulator's, for a local start). */
/**
 * The QFPay emulator's host names in docker-compose.yml: its service, and `sandbox`, the service's
 * name before (an alias of it, so deployments that name it keep working).
 */
export const QFPAY_EMULATOR_HOSTS: readonly string[] = ['qfpay-emulator', 'sandbox'];

export const QFPAY_VARIABLES = {
  QFPAY_BASE_URL: z.url().default('http://127.0.0.1:4010'),
  /** The emulator's public credentials unless set; refused against real QFPay. */
  QFPAY_APP_CODE: nonEmpty.default(DEFAULT_EMULATOR_APP_CODE),
  QFPAY_APP_KEY: nonEmpty.default(DEFAULT_EMULATOR_APP_KEY),
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
} as const;

const settingsSchema = z.object(QFPAY_VARIABLES);

/** QFPay's settings, parsed. */
export type QfpaySettings = z.output<typeof settingsSchema>;

/** Every variable QFPay's module reads. */
export const QFPAY_VARIABLE_NAMES = Object.keys(QFPAY_VARIABLES) as (keyof typeof QFPAY_VARIABLES)[];

/**
 * QFPay's settings from an environment (empty strings count as unset).
 * @throws Error naming each variable that is wrong (the engine's configuration refuses them first)
 */
export function qfpaySettings(env: GatewayEnv): QfpaySettings {
  const set = Object.fromEntries(
    QFPAY_VARIABLE_NAMES.flatMap((name) => (env[name] ? [[name, env[name]]] : [])),
  );
  const parsed = settingsSchema.safeParse(set);
  if (parsed.success) return parsed.data;
  const said = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`QFPay's variables: ${said}`);
}

/** The environment that gives back `settings` (the engine's parsed configuration as variables). */
export function qfpayVariables(settings: QfpaySettings): GatewayEnv {
  return Object.fromEntries(QFPAY_VARIABLE_NAMES.map((name) => [name, String(settings[name])]));
}

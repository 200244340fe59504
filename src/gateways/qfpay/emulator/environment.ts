/**
 * The QFPay emulator's process configuration (`npm run emulator`), read from the environment.
 * Its variables were called `SANDBOX_…` before the emulator had its name; those names are still
 * read, each only when its new name is unset, so existing .env files and deployments keep working.
 */
import { z } from 'zod';
import { DEFAULT_QFPAY_TIME_OFFSET } from '../time';
import { DEFAULT_EMULATOR_APP_CODE, DEFAULT_EMULATOR_APP_KEY } from './credentials';

/** Each emulator variable and the name it had before. */
export const OLDER_VARIABLE_NAMES = {
  EMULATOR_PORT: 'SANDBOX_PORT',
  EMULATOR_HOST: 'SANDBOX_HOST',
  EMULATOR_NOTIFY_URL: 'SANDBOX_NOTIFY_URL',
  EMULATOR_STATE_FILE: 'SANDBOX_STATE_FILE',
  EMULATOR_TIME_SCALE: 'SANDBOX_TIME_SCALE',
} as const;

/**
 * `env` with every unset emulator variable taken from its older name, where that one is set.
 * Empty strings count as unset, as everywhere in the engine's configuration.
 */
export function withOlderVariableNames(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...env };
  for (const [name, older] of Object.entries(OLDER_VARIABLE_NAMES)) {
    const olderValue = env[older];
    if (!env[name] && olderValue) result[name] = olderValue;
  }
  return result;
}

/** Empty variables count as unset. */
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);

/** The variables the emulator process reads, under their current names. */
export const emulatorEnvironmentSchema = z.object({
  EMULATOR_PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(65_535).default(4010)),
  EMULATOR_HOST: z.preprocess(unsetIfEmpty, z.string().default('0.0.0.0')),
  QFPAY_APP_CODE: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_EMULATOR_APP_CODE)),
  QFPAY_APP_KEY: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_EMULATOR_APP_KEY)),
  EMULATOR_NOTIFY_URL: z.preprocess(unsetIfEmpty, z.url().optional()),
  EMULATOR_STATE_FILE: z.preprocess(unsetIfEmpty, z.string().optional()),
  EMULATOR_TIME_SCALE: z.preprocess(unsetIfEmpty, z.coerce.number().positive().default(1)),
  /** Where the emulator's clock starts when it has no state file (ISO time). @default the real now */
  EMULATOR_START_TIME: z.preprocess(unsetIfEmpty, z.iso.datetime({ offset: true }).optional()),
  QFPAY_TIME_OFFSET: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[+-]\d{2}:\d{2}$/, 'expected an offset like +08:00')
      .default(DEFAULT_QFPAY_TIME_OFFSET),
  ),
  LOG_LEVEL: z.preprocess(
    unsetIfEmpty,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
});

/** The emulator process's configuration. */
export type EmulatorEnvironment = z.output<typeof emulatorEnvironmentSchema>;

/**
 * Parses the emulator's configuration, older variable names included.
 * @returns the configuration, or zod's readable account of what is wrong
 */
export function parseEmulatorEnvironment(
  env: NodeJS.ProcessEnv,
): { ok: true; environment: EmulatorEnvironment } | { ok: false; problems: string } {
  const parsed = emulatorEnvironmentSchema.safeParse(withOlderVariableNames(env));
  return parsed.success
    ? { ok: true, environment: parsed.data }
    : { ok: false, problems: z.prettifyError(parsed.error) };
}

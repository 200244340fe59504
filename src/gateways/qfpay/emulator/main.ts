/**
 * `npm run sandbox`: the QFPay sandbox emulator as a process, configured from the environment.
 * Logs JSON lines; shuts down cleanly (state file written) on SIGINT/SIGTERM.
 */
import pino from 'pino';
import { z } from 'zod';
import { DEFAULT_QFPAY_TIME_OFFSET } from '../time';
import { DEFAULT_EMULATOR_APP_CODE, DEFAULT_EMULATOR_APP_KEY } from './emulator';
import { startQfpayEmulator } from './server';

/** Empty variables count as unset. */
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);

const envSchema = z.object({
  SANDBOX_PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(65_535).default(4010)),
  SANDBOX_HOST: z.preprocess(unsetIfEmpty, z.string().default('0.0.0.0')),
  QFPAY_APP_CODE: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_EMULATOR_APP_CODE)),
  QFPAY_APP_KEY: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_EMULATOR_APP_KEY)),
  SANDBOX_NOTIFY_URL: z.preprocess(unsetIfEmpty, z.url().optional()),
  SANDBOX_STATE_FILE: z.preprocess(unsetIfEmpty, z.string().optional()),
  SANDBOX_TIME_SCALE: z.preprocess(unsetIfEmpty, z.coerce.number().positive().default(1)),
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

async function main(): Promise<void> {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(`Invalid emulator configuration:\n${z.prettifyError(parsed.error)}\n`);
    process.exit(1);
  }
  const env = parsed.data;
  const logger = pino({ name: 'qfpay-emulator', level: env.LOG_LEVEL });
  const emulator = await startQfpayEmulator({
    port: env.SANDBOX_PORT,
    host: env.SANDBOX_HOST,
    appCode: env.QFPAY_APP_CODE,
    appKey: env.QFPAY_APP_KEY,
    ...(env.SANDBOX_NOTIFY_URL !== undefined && { notifyUrl: env.SANDBOX_NOTIFY_URL }),
    ...(env.SANDBOX_STATE_FILE !== undefined && { stateFile: env.SANDBOX_STATE_FILE }),
    timeScale: env.SANDBOX_TIME_SCALE,
    timeOffset: env.QFPAY_TIME_OFFSET,
    ...(env.EMULATOR_START_TIME !== undefined && { startTime: Date.parse(env.EMULATOR_START_TIME) }),
    logger,
  });
  logger.info(
    {
      url: emulator.url,
      stateFile: env.SANDBOX_STATE_FILE ?? null,
      timeScale: env.SANDBOX_TIME_SCALE,
      notificationsOn: env.SANDBOX_NOTIFY_URL !== undefined,
    },
    'QFPay emulator ready',
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    emulator.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `QFPay emulator failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});

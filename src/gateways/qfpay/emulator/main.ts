/**
 * `npm run emulator`: the QFPay emulator as a process, configured from the environment
 * (`environment.ts`). Logs JSON lines; shuts down cleanly (state file written) on SIGINT/SIGTERM.
 */
import pino from 'pino';
import { parseEmulatorEnvironment } from './environment';
import { startQfpayEmulator } from './server';

async function main(): Promise<void> {
  const parsed = parseEmulatorEnvironment(process.env);
  if (!parsed.ok) {
    process.stderr.write(`Invalid emulator configuration:\n${parsed.problems}\n`);
    process.exit(1);
  }
  const env = parsed.environment;
  const logger = pino({ name: 'qfpay-emulator', level: env.LOG_LEVEL });
  const emulator = await startQfpayEmulator({
    port: env.EMULATOR_PORT,
    host: env.EMULATOR_HOST,
    appCode: env.QFPAY_APP_CODE,
    appKey: env.QFPAY_APP_KEY,
    ...(env.EMULATOR_NOTIFY_URL !== undefined && { notifyUrl: env.EMULATOR_NOTIFY_URL }),
    ...(env.EMULATOR_STATE_FILE !== undefined && { stateFile: env.EMULATOR_STATE_FILE }),
    timeScale: env.EMULATOR_TIME_SCALE,
    timeOffset: env.QFPAY_TIME_OFFSET,
    ...(env.EMULATOR_START_TIME !== undefined && { startTime: Date.parse(env.EMULATOR_START_TIME) }),
    logger,
  });
  logger.info(
    {
      url: emulator.url,
      stateFile: env.EMULATOR_STATE_FILE ?? null,
      timeScale: env.EMULATOR_TIME_SCALE,
      notificationsOn: env.EMULATOR_NOTIFY_URL !== undefined,
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

/**
 * Configuration of the local stack supervisor (`npm start`): its own zod schema over the
 * environment, with defaults for a newcomer's machine. The parts it starts (worker, API,
 * emulator) still validate their own variables; this only decides ports, paths and what every
 * part must agree on.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { isLoopbackUrl, problemLines, setVariables } from '../config';
import { withOlderVariableNames } from '../gateways/qfpay/emulator/environment';

export const port = z.coerce.number().int().min(1).max(65535);
export const nonEmpty = z.string().trim().min(1);
const milliseconds = z.coerce.number().int().positive();

export const stackConfigSchema = z.object({
  /** The engine's API (merchant routes and the QFPay webhook). */
  PORT: port.default(3000),
  /** The Temporal dev server's gRPC frontend. */
  TEMPORAL_PORT: port.default(7233),
  /** The Temporal Web UI. */
  TEMPORAL_UI_PORT: port.default(8233),
  /** The codec server the Web UI decodes payloads through. */
  CODEC_SERVER_PORT: port.default(8234),
  /**
   * The QFPay emulator (not started when `QFPAY_BASE_URL` points at QFPay itself); its older name
   * `SANDBOX_PORT` is read when this one is unset.
   */
  EMULATOR_PORT: port.default(4010),
  /**
   * Where every emulator's clock starts (an ISO time, e.g. `2027-01-31T10:00:00Z`), instead of the
   * real now: to try billing across a month's end, a leap day or a year's end. The QFPay emulator
   * carries on from its state file when it has one.
   */
  EMULATOR_START_TIME: z.iso.datetime({ offset: true }).optional(),
  /** Where the Temporal SQLite database and the emulator's state file live. */
  DATA_DIR: nonEmpty.default('./.data'),
  /** A non-loopback URL means real QFPay: no emulator is started. */
  QFPAY_BASE_URL: z.url().optional(),
  QFPAY_APP_CODE: nonEmpty.optional(),
  QFPAY_APP_KEY: nonEmpty.optional(),
  TEMPORAL_NAMESPACE: nonEmpty.default('default'),
  TEMPORAL_TASK_QUEUE: nonEmpty.default('qfpay-subscriptions'),
  API_KEYS: nonEmpty.default('dev-api-key'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How long each part may take to become ready before the start is abandoned. */
  STACK_READY_TIMEOUT_MS: milliseconds.default(120_000),
  /** How long a part gets after SIGTERM before it is killed. */
  STACK_STOP_GRACE_MS: milliseconds.default(15_000),
});

/** The supervisor's configuration, with `DATA_DIR` made absolute. */
export type StackConfig = z.output<typeof stackConfigSchema> & { dataDir: string; useEmulator: boolean };

/** Thrown when the environment does not describe a valid stack configuration. */
export class StackConfigError extends Error {
  readonly type = 'StackConfigError';
  constructor(
    readonly problems: string[],
    command = 'npm start',
  ) {
    super(`invalid configuration for ${command}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StackConfigError';
  }
}

/**
 * Parses the supervisor's configuration.
 * @param env defaults to `process.env`; empty strings count as unset; `SANDBOX_PORT` stands in
 *   for an unset `EMULATOR_PORT`
 * @param cwd base of a relative `DATA_DIR`
 * @throws StackConfigError naming every variable that is wrong
 */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): StackConfig {
  const parsed = stackConfigSchema.safeParse(setVariables(withOlderVariableNames(env)));
  if (!parsed.success) throw new StackConfigError(problemLines(parsed.error));
  const c = parsed.data;
  const useEmulator = c.QFPAY_BASE_URL === undefined || isLoopbackUrl(c.QFPAY_BASE_URL);
  const ports: Array<[string, number]> = [
    ['PORT', c.PORT],
    ['TEMPORAL_PORT', c.TEMPORAL_PORT],
    ['TEMPORAL_UI_PORT', c.TEMPORAL_UI_PORT],
    ['CODEC_SERVER_PORT', c.CODEC_SERVER_PORT],
    ...(useEmulator ? [['EMULATOR_PORT', c.EMULATOR_PORT] as [string, number]] : []),
  ];
  const problems = portClashes(ports);
  if (problems.length > 0) throw new StackConfigError(problems);
  return { ...c, dataDir: resolve(cwd, c.DATA_DIR), useEmulator };
}

/** One problem line for each port of `ports` (name, number) that an earlier one already uses. */
export function portClashes(ports: Array<[string, number]>): string[] {
  const problems: string[] = [];
  for (const [i, [name, value]] of ports.entries()) {
    const clash = ports.slice(0, i).find(([, other]) => other === value);
    if (clash) problems.push(`${name}: ${value} is also ${clash[0]}; every part needs its own port`);
  }
  return problems;
}

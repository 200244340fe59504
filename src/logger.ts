/**
 * Structured logging (pino) shared by the worker, the API and the emulator: JSON lines, or
 * readable lines on a terminal (src/logging-format.ts).
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { prettyOptions, wantsPrettyLogs } from './logging-format';

export type { Logger };

/**
 * Creates the process logger.
 * @param name the component (`worker`, `api`, `codec-server`), added to every line
 * @param level pino level; `silent` in tests
 */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    base: { component: name },
    redact: {
      paths: ['*.appKey', '*.app_key', '*.secret', 'req.headers["x-api-key"]', 'req.headers.authorization'],
      remove: true,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (level === 'silent' || !wantsPrettyLogs()) return pino(options);
  // Synchronous, in this process: a line written just before an exit is not lost.
  return pino(options, pretty({ ...prettyOptions(process.stdout.isTTY === true), sync: true }));
}

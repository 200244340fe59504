/** Structured JSON logging (pino) shared by the worker, the API and the emulator. */
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Creates the process logger.
 * @param name the component (`worker`, `api`, `sandbox`), added to every line
 * @param level pino level; `silent` in tests
 */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    base: { component: name },
    redact: {
      paths: ['*.appKey', '*.app_key', '*.secret', 'req.headers["x-api-key"]', 'req.headers.authorization'],
      remove: true,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/**
 * How log lines look to a person: pino's JSON lines made readable by pino-pretty on a terminal
 * (`12:03:04 INFO worker: worker started taskQueue=…`), JSON everywhere else (files, pipes,
 * containers, log collectors). `LOG_FORMAT=json` or `LOG_FORMAT=pretty` decides instead.
 */
import { prettyFactory, type PrettyOptions } from 'pino-pretty';

/** Whether logs meant for `stream` should be pretty. */
export function wantsPrettyLogs(
  stream: { isTTY?: boolean } = process.stdout,
  format: string | undefined = process.env.LOG_FORMAT,
): boolean {
  if (format === 'json') return false;
  if (format === 'pretty') return true;
  return stream.isTTY === true;
}

/**
 * pino-pretty's options for the engine: one line per record, local time, the component first
 * unless something else already says which part wrote the line (`npm start` prefixes each part).
 */
export function prettyOptions(colorize: boolean, withComponent = true): PrettyOptions {
  return {
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name,component',
    messageFormat: (log, messageKey) => {
      const message = String(log[messageKey] ?? '');
      // The API's access log: `GET /v1/subscriptions 200 12.3 ms`.
      const text =
        message === 'request' && typeof log.method === 'string'
          ? `${log.method} ${String(log.path)} ${String(log.status)} ${String(log.duration_ms)} ms`
          : message;
      return withComponent && typeof log.component === 'string' ? `${log.component}: ${text}` : text;
    },
  };
}

/**
 * Turns one output line into what a person reads: a pino JSON record becomes one pretty line;
 * anything else (a server's own output) is kept as it is.
 */
export function prettyLineFormatter(colorize: boolean, withComponent = true): (line: string) => string {
  const pretty = prettyFactory(prettyOptions(colorize, withComponent));
  return (line) => {
    if (!line.startsWith('{"level":')) return line;
    try {
      return pretty(JSON.parse(line) as object).replace(/\n$/, '');
    } catch {
      return line;
    }
  };
}

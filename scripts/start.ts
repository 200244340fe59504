/**
 * `npm start`: the whole local stack in one command — the Temporal dev server with its Web UI,
 * the QFPay emulator, the worker and the API — until Ctrl-C. See docs/quickstart.md.
 *
 * Exit status: 0 after Ctrl-C/SIGTERM, 1 when a part died or could not start, 78 for a bad
 * configuration.
 */
import { runStackCommand } from '../src/dev/stack-command';
import { loadStackConfig } from '../src/dev/stack-config';
import {
  describePart,
  emulatorStateFile,
  startLocalStack,
  type PartName,
  type RunningStack,
} from '../src/dev/stack';
import { prettyLineFormatter, wantsPrettyLogs } from '../src/logging-format';

/** On a terminal, each part's JSON log lines are shown as readable lines (LOG_FORMAT=json keeps JSON). */
function partOutput(): ((part: PartName, line: string, stream: 'stdout' | 'stderr') => void) | undefined {
  if (!wantsPrettyLogs()) return undefined;
  const format = prettyLineFormatter(process.stdout.isTTY === true, false);
  return (part, line, stream) =>
    (stream === 'stdout' ? process.stdout : process.stderr).write(`${part.padEnd(8)} | ${format(line)}\n`);
}

function banner(stack: RunningStack): string {
  const { urls } = stack;
  const seconds = (stack.readyMs / 1000).toFixed(1);
  const lines = [
    '',
    `QFPay subscription engine is ready (in ${seconds} s).`,
    '',
    `  API            ${urls.api}/v1   (Authorization: Bearer ${stack.apiKey})`,
    `  OpenAPI        ${urls.openapi}`,
    `  Webhook        ${urls.webhook}`,
    `  Temporal UI    ${urls.webUi}/namespaces/${stack.config.TEMPORAL_NAMESPACE}/workflows`,
    `  Codec server   ${urls.codecServer}   (the Web UI decrypts payloads through it)`,
    `  Temporal gRPC  ${urls.temporal}`,
    urls.emulator
      ? `  QFPay emulator ${urls.emulator}   (/_emulator API, state in ${emulatorStateFile(stack.config.dataDir)})`
      : `  QFPay          ${urls.qfpay}`,
    ...Object.entries(urls.gateways).map(
      ([name, url]) =>
        `  ${`${name} emulator`.padEnd(14)} ${url}   (/_emulator API; webhook ${urls.api}/webhooks/${name})`,
    ),
    `  Data           ${stack.config.dataDir}`,
    '',
    '  Try it: npm run demo   ·   walkthrough: docs/quickstart.md   ·   stop: Ctrl-C',
    '',
  ];
  return lines.join('\n');
}

runStackCommand({
  name: 'start',
  width: 8,
  loadConfig: () => loadStackConfig(),
  start: (config, say, signal) =>
    startLocalStack({ config, onProgress: say, signal, onOutput: partOutput() }),
  parts: (stack) => stack.parts,
  banner,
  describe: (part) => describePart(part as PartName),
}).catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * `npm start`: the whole local stack in one command — the Temporal dev server with its Web UI,
 * the QFPay emulator, the worker and the API — until Ctrl-C. See docs/quickstart.md.
 *
 * Exit status: 0 after Ctrl-C/SIGTERM, 1 when a part died or could not start, 78 for a bad
 * configuration.
 */
import { StackConfigError, loadStackConfig } from '../src/dev/stack-config';
import {
  StackError,
  describePart,
  exitText,
  startLocalStack,
  type PartName,
  type RunningStack,
} from '../src/dev/stack';

const say = (message: string) => process.stdout.write(`${'start'.padEnd(8)} | ${message}\n`);

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
      ? `  QFPay emulator ${urls.emulator}   (/_sandbox API, state in ${stack.config.dataDir}/sandbox-state.json)`
      : `  QFPay          ${urls.qfpay}`,
    `  Data           ${stack.config.dataDir}`,
    '',
    '  Try it: npm run demo   ·   walkthrough: docs/quickstart.md   ·   stop: Ctrl-C',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadStackConfig();
  } catch (err) {
    if (!(err instanceof StackConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }

  // Ctrl-C during start-up aborts it; once running, it stops the stack; a second one kills it.
  const abort = new AbortController();
  let stack: RunningStack | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      say(`${signal} again: killing every part now`);
      stack?.kill();
      process.exit(1);
    }
    say(`${signal}: stopping (Ctrl-C again to kill at once)`);
    abort.abort();
    if (stack) {
      void stack.stop().then(() => {
        say('stopped');
        process.exit(0);
      });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    stack = await startLocalStack({ config, onProgress: say, signal: abort.signal });
  } catch (err) {
    if (err instanceof StackError && err.type === 'aborted') {
      say('stopped');
      process.exit(0);
    }
    if (err instanceof StackError || err instanceof StackConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(err instanceof StackConfigError ? 78 : 1);
    }
    throw err;
  }
  for (const part of stack.parts) say(`${part.name} pid ${part.pid}`);
  process.stdout.write(`${banner(stack)}\n`);

  const exit = await stack.failed;
  if (signals > 0) return; // stopping on request; the signal handler exits
  const name: PartName = exit.part;
  process.stderr.write(
    `${describePart(name)} exited unexpectedly (${exitText(exit)}); the other parts were stopped\n`,
  );
  process.exit(1);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * The command-line shell shared by `npm start` and `npm run cluster`: reads the configuration,
 * starts the stack, prints the pids and a banner, and stops on Ctrl-C / SIGTERM (a second one
 * kills every part at once).
 *
 * Exit status: 0 after Ctrl-C/SIGTERM, 1 when a part died or could not start, 78 for a bad
 * configuration.
 */
import { StackConfigError } from './stack-config';
import { StackError, exitText, type PartExit } from './supervisor';

export interface StackCommand<Config, Stack> {
  /** The prefix of the supervisor's own lines, e.g. `start`. */
  name: string;
  /** The width of the part-name column, so the supervisor's lines line up with the parts'. */
  width: number;
  loadConfig(): Config;
  start(config: Config, say: (message: string) => void, signal: AbortSignal): Promise<Stack>;
  parts(stack: Stack): Array<{ name: string; pid: number }>;
  banner(stack: Stack): string;
  describe(part: string): string;
}

interface Stoppable {
  failed: Promise<PartExit>;
  stop(): Promise<void>;
  kill(): void;
}

export async function runStackCommand<Config, Stack extends Stoppable>(
  command: StackCommand<Config, Stack>,
): Promise<void> {
  const say = (message: string) =>
    process.stdout.write(`${command.name.padEnd(command.width)} | ${message}\n`);
  let config: Config;
  try {
    config = command.loadConfig();
  } catch (err) {
    if (!(err instanceof StackConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }

  // Ctrl-C during start-up aborts it; once running, it stops the stack; a second one kills it.
  const abort = new AbortController();
  let stack: Stack | undefined;
  let signals = 0;
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C can arrive more than once: the terminal signals the whole foreground group, and
    // npm and tsx forward it to their child as well. Only a later one means "kill now".
    if (signals > 0 && Date.now() - firstSignalAt < 1_000) return;
    if (signals === 0) firstSignalAt = Date.now();
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
    stack = await command.start(config, say, abort.signal);
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
  for (const part of command.parts(stack)) say(`${part.name} pid ${part.pid}`);
  process.stdout.write(`${command.banner(stack)}\n`);

  const exit = await stack.failed;
  if (signals > 0) return; // stopping on request; the signal handler exits
  process.stderr.write(
    `${command.describe(exit.part)} exited unexpectedly (${exitText(exit)}); the other parts were stopped\n`,
  );
  process.exit(1);
}

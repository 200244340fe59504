/**
 * Starts the emulator: the Express app on a port, the real-time ticker, and the state file.
 * Tests and the engine's test-suite start it in-process on port 0.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { buildEmulatorApp } from './app';
import type { EmulatorClock } from './clock';
import type { FaultConfig, FaultConfigUpdate } from './faults';
import type { AdvanceResult, AdvanceTarget } from './runtime';
import { QfpayEmulator, type EmulatorConfig } from './emulator';
import { TestClockWorlds } from './test-clocks';

/** Options of {@link startQfpayEmulator}: the emulator's configuration plus where to listen. */
export interface QfpayEmulatorOptions extends EmulatorConfig {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Real ms between two runs of the ticker that processes due events as time passes. @default 250 */
  tickIntervalMs?: number;
}

/** A running emulator. */
export interface QfpayEmulatorHandle {
  /** Base URL, e.g. `http://127.0.0.1:4010`: the engine's QFPay base URL. */
  url: string;
  port: number;
  clock: EmulatorClock;
  /** The wired emulator (state, engine, notifier, faults) for in-process inspection. */
  emulator: QfpayEmulator;
  /** Its test clocks, each a world of its own (`/_emulator/test_clocks`). */
  testClocks: TestClockWorlds;
  app: Express;
  /** The HTTP server (e.g. to time the emulator's requests from outside). */
  server: Server;
  /** Moves the emulator clock forward, processing everything due on the way (like `POST /_emulator/clock/advance`). */
  advance(target: AdvanceTarget): Promise<AdvanceResult>;
  /** Delivers every notification and processes every event due by now; resolves when done. */
  settle(): Promise<AdvanceResult>;
  /** Changes the fault configuration (like `POST /_emulator/faults`). */
  setFaults(change: FaultConfigUpdate): FaultConfig;
  /** Changes the notify URL; `undefined` turns notifications off. */
  setNotifyUrl(url: string | undefined): void;
  /** Clears all state and faults (like `POST /_emulator/reset`). */
  reset(clock?: { nowMs?: number; frozen?: boolean }): void;
  /** Stops the ticker, ends open connections (held responses included), writes the state file, closes the port. */
  close(): Promise<void>;
}

/**
 * Starts an emulator.
 * @throws StateFileError when `stateFile` exists but cannot be read
 */
export async function startQfpayEmulator(options: QfpayEmulatorOptions = {}): Promise<QfpayEmulatorHandle> {
  const emulator = new QfpayEmulator(options);
  const testClocks = new TestClockWorlds(emulator, options.tickIntervalMs ?? 250);
  const app = buildEmulatorApp(emulator, testClocks);
  const server = await listen(app, options.port ?? 0, options.host ?? '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  const host = options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  emulator.runtime.startTicker(options.tickIntervalMs ?? 250);
  // Process anything that fell due while the emulator was stopped.
  emulator.runtime.requestRun();
  emulator.logger.info({ port, notifyUrl: emulator.notifier.url ?? null }, 'QFPay emulator listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    clock: emulator.clock,
    emulator,
    testClocks,
    app,
    server,
    advance: (target) => emulator.runtime.advance(target),
    settle: () => emulator.runtime.advance({ ms: 0 }),
    setFaults: (change) => emulator.faults.update(change),
    setNotifyUrl: (url) => {
      emulator.notifier.setNotifyUrl(url);
      testClocks.setNotifyUrl(url);
    },
    reset: (clock) => emulator.reset(clock),
    close: () => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await testClocks.close();
        await emulator.close();
        await closed;
      })();
      return closing;
    },
  };
}

function listen(app: Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

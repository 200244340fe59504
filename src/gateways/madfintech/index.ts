/**
 * MadFintech (gateway.madfintech.com): card orders with recurring payments, paid by a bound
 * card. See README.md for the endpoints, the mapping and every assumption.
 */
import { loopbackEmulatorRoot, type GatewayEnv, type GatewayModule } from '../port';
import { MadfintechAdapter, madfintechCreateIssues } from './adapter';
import { MADFINTECH_CAPABILITIES } from './capabilities';
import { startMadfintechEmulator } from './emulator/server';
import { madfintechWebhook } from './webhook';

export const MADFINTECH_DEFAULT_API_URL = 'https://gateway.madfintech.com/api/v1';
const DEFAULT_TIMEOUT_MS = 10_000;

const value = (env: GatewayEnv, key: string): string | undefined => {
  const v = env[key]?.trim();
  return v ? v : undefined;
};

function timeoutMs(env: GatewayEnv): number {
  const n = Number(value(env, 'MADFINTECH_TIMEOUT_MS') ?? DEFAULT_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_TIMEOUT_MS;
}

export const madfintechGateway: GatewayModule = {
  name: 'madfintech',
  label: 'MadFintech',
  capabilities: MADFINTECH_CAPABILITIES,
  variables: [
    'MADFINTECH_API_URL',
    'MADFINTECH_API_TOKEN',
    'MADFINTECH_SHOP_ID',
    'MADFINTECH_CALLBACK_SECRET',
    'MADFINTECH_TIMEOUT_MS',
  ],
  description:
    'MadFintech card gateway: recurring orders paid by a bound card; the gateway bills each cycle and retries a decline itself (no manual charge, no pause).',
  configured: (env) =>
    ['MADFINTECH_API_TOKEN', 'MADFINTECH_SHOP_ID', 'MADFINTECH_CALLBACK_SECRET'].every((k) => value(env, k)),
  createInputIssues: madfintechCreateIssues,
  adapter: (env) =>
    new MadfintechAdapter({
      baseUrl: value(env, 'MADFINTECH_API_URL') ?? MADFINTECH_DEFAULT_API_URL,
      token: value(env, 'MADFINTECH_API_TOKEN') ?? '',
      shopId: value(env, 'MADFINTECH_SHOP_ID') ?? '',
      timeoutMs: timeoutMs(env),
    }),
  webhook: (env) => madfintechWebhook(value(env, 'MADFINTECH_CALLBACK_SECRET')),
  emulatorUrl: (env) =>
    madfintechGateway.configured(env)
      ? loopbackEmulatorRoot(value(env, 'MADFINTECH_API_URL'), '/api/v1')
      : undefined,
  async startEmulator(options) {
    const emulator = await startMadfintechEmulator(options);
    return { url: emulator.url, close: emulator.close, env: emulator.env };
  },
};

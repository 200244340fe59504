/**
 * The QFPay emulator's default credentials, which are also the engine's: a local stack agrees with
 * itself with nothing set. They are public, so the engine refuses them against real QFPay
 * (src/config.ts). They keep the spelling they had before the emulator was called one: .env files,
 * compose deployments and the engine's side of a running stack carry these values, and both sides
 * must agree.
 */
export const DEFAULT_EMULATOR_APP_CODE = 'sandbox-app-code';
export const DEFAULT_EMULATOR_APP_KEY = 'sandbox-app-key';

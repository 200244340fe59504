import type { GatewayCapabilities } from '../port';

const DAY_MS = 86_400_000;

/** What MadFintech's recurring orders allow (the seed documents create, read and cancel only). */
export const MADFINTECH_CAPABILITIES: GatewayCapabilities = Object.freeze({
  manualCharge: false,
  pause: false,
  changeToken: false,
  changeCycles: false,
  changeProducts: false,
  cancel: true,
  recovery:
    'MadFintech retries a declined cycle itself, up to 3 tries one day apart; after the third decline the recurring subscription is failed and charges stop.',
  // The third try falls due two days after the first decline.
  recoveryEndsAfterMs: 2 * DAY_MS,
});

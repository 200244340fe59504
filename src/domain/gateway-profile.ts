/**
 * A gateway's name and capabilities: plain data, imported by the workflows (which decide from
 * capabilities, never from a gateway's name) and by the registry. No imports, so it stays a leaf.
 */

/**
 * What a gateway can do, as plain JSON (it travels in the workflow's input). The engine reads it
 * to decide, never the gateway's name.
 */
export interface GatewayCapabilities {
  /**
   * The engine can charge a failed cycle itself (QFPay's `subscription/v1/charge`). Without it,
   * dunning escalates to the merchant at once and leaves recovery to the gateway's own path.
   */
  manualCharge: boolean;
  /** The gateway pauses a subscription itself (without it the engine's pause is its own). */
  pause: boolean;
  /** The payment token (card) of a running subscription can be changed. */
  changeToken: boolean;
  /** The number of billing cycles of a running subscription can be changed. */
  changeCycles: boolean;
  /** The products (price) of a running subscription can be changed. */
  changeProducts: boolean;
  /**
   * The price of one running subscription can be set, in its currency, from its next billing on
   * (QorePay: the subscriber's `invoice_override`). Absent: false.
   */
  changePrice?: boolean;
  /** A cancel is a call the engine makes (every gateway here has one). */
  cancel: boolean;
  /** How the gateway itself recovers a failed charge, in a sentence, for people (docs, API). */
  recovery: string;
  /**
   * For a gateway that recovers a failed charge itself (no manual charge): how long after the
   * first decline its last try falls due (MadFintech: its third try, two days on; QorePay: the
   * purchase's due period). The engine escalates when the gateway says its recovery ended unpaid
   * (UNPAID), and asks it once this has passed without a word. Absent (subscriptions created
   * before the engine timed it): the episode escalates at the first decline.
   */
  recoveryEndsAfterMs?: number;
}

/** A gateway's name and capabilities, as a subscription's workflow carries them. */
export interface GatewayProfile {
  name: string;
  /** How people write its name ("QorePay"), for the Web UI's summaries (absent: `name`). */
  label?: string;
  capabilities: GatewayCapabilities;
}

/** The name people read: the profile's label, else its name. */
export function gatewayLabel(profile: GatewayProfile): string {
  return profile.label ?? profile.name;
}

/** The gateway of every subscription whose workflow input names none (all before the port). */
export const QFPAY_GATEWAY = 'qfpay';

/** QFPay's capabilities (seeds 001 and 002). */
export const QFPAY_CAPABILITIES: GatewayCapabilities = {
  manualCharge: true,
  pause: false,
  changeToken: true,
  changeCycles: true,
  changeProducts: true,
  cancel: true,
  recovery:
    'QFPay retries a failed cycle on its own schedule; the engine adds manual charges (subscription/v1/charge) that finish before the next billing time',
};

export const QFPAY_PROFILE: GatewayProfile = {
  name: QFPAY_GATEWAY,
  label: 'QFPay',
  capabilities: QFPAY_CAPABILITIES,
};

/**
 * A subscription's engine id: the gateway's own id, prefixed by the gateway's name for every
 * gateway but QFPay (whose `sub_…` ids predate the port and stay bare).
 */
export function engineSubscriptionId(gateway: string, gatewayId: string): string {
  return gateway === QFPAY_GATEWAY ? gatewayId : `${gateway}:${gatewayId}`;
}

/** The gateway and the gateway's own id of an engine subscription id. */
export function splitSubscriptionId(engineId: string): { gateway: string; gatewayId: string } {
  const colon = engineId.indexOf(':');
  if (colon <= 0) return { gateway: QFPAY_GATEWAY, gatewayId: engineId };
  return { gateway: engineId.slice(0, colon), gatewayId: engineId.slice(colon + 1) };
}

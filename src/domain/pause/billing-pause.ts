/**
 * The engine's hold on its own dunning: it makes no manual charge, opens no dunning episode and
 * takes no final action while it lasts, and re-plans the open episode when it ends. With
 * `atGateway`, the gateway has paused billing too (a gateway with a pause); without it the
 * subscription stays as it is at the gateway (QFPay has no pause API), whose own schedule goes on.
 */
export interface BillingPause {
  /** The gateway paused the subscription's billing (absent: only the engine's dunning is held). */
  atGateway?: true;
  /** When the pause began (workflow time). */
  since: number;
  /** When the engine resumes by itself (a durable timer), or null: until the merchant resumes. */
  resumesAt: number | null;
  /** The merchant's pause or hold, or the final action `hold_dunning` of an exhausted episode. */
  by: 'merchant' | 'final_action';
}

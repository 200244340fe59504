/**
 * A cancel the merchant scheduled for the end of the current period, as the state holds it; the
 * rules are in `scheduled-cancel.ts`.
 */
export interface ScheduledCancel {
  /** The billing time the customer is not billed at: the period's end when it was scheduled. */
  periodEnd: number;
  /** When it was scheduled (workflow time); its events are named by it. */
  since: number;
  /** Tries of the cancel the gateway did not carry out. */
  attempts: number;
  /** When the cancel is tried again after such a try (absent: at its time). */
  retryAt?: number;
}

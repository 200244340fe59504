/**
 * A gateway's answers in the engine's words: what a manual charge became, what a look at an
 * unconfirmed charge found, and what a query of the subscription found. The adapters produce them
 * (through the port), the activities return them, and the domain's reducers read them.
 */
import type { Fact } from './lifecycle/lifecycle';

/**
 * What became of one manual charge:
 * - `succeeded`: QFPay paid the order (now, or it was already paid when the engine looked first);
 * - `failed`: QFPay declined it;
 * - `pending`: QFPay said it is processing (1143/1145/1298): confirm by looking, never repeat;
 * - `unknown`: no answer (a timeout, a 5xx, the network): it may have reached QFPay, so confirm;
 * - `not_sent`: nothing was sent (its window had closed by the time the activity ran).
 */
export interface ChargeOutcome {
  orderId: string;
  sequenceNo: number;
  outcome: 'succeeded' | 'failed' | 'pending' | 'unknown' | 'not_sent';
  respcd?: string;
  respmsg?: string;
  syssn?: string;
  amount?: number;
  currency?: string;
  /** QFPay's time of the payment when it told us, else when the call returned (epoch ms). */
  at: number;
  /**
   * `at` is QFPay's own time of the payment (its `txdtm`): the fact sorts where QFPay's
   * notification of the same attempt does, and is the same fact. Absent: the engine's time.
   */
  atFromQfpay?: true;
  /** The order was already paid when the engine looked before charging: nothing was sent. */
  alreadyPaid?: boolean;
  /** Why, for a charge not sent or not answered. */
  detail?: string;
  /**
   * For an unanswered charge: how the order looked just before it was sent (see
   * `orderFingerprint`), so that a later look can tell whether QFPay recorded an attempt since.
   */
  orderBefore?: string;
}

/** What a look at an unconfirmed charge found: a result of an attempt after it was sent, or nothing yet. */
export type ConfirmOutcome = { status: 'paid' | 'failed'; charge: ChargeOutcome } | { status: 'unknown' };

/** The result of asking QFPay about a subscription (query + billing orders). */
export type SyncResult =
  | { found: true; fact: Extract<Fact, { kind: 'sync' }> }
  | { found: false; subscriptionId: string; at: number };

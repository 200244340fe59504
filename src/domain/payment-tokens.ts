/**
 * A customer's payment tokens as the engine records them: plain data, in the customer's tokens
 * workflow and its signal. A gateway's webhook reads its token notifications into these.
 */

/** A payment token the engine learned from a gateway's notification (masked card only). */
export interface PaymentTokenRecord {
  tokenId: string;
  customerId: string;
  event: 'NEW' | 'MATCH' | 'CONFLICT' | string;
  cardMasked?: string;
  cardScheme?: string;
  expiry?: string;
  receivedAt: number;
  at: number;
}

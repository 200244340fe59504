/**
 * Records the payment tokens QFPay reports for one customer (`payment_token` notifications), so
 * the merchant can create a subscription with a token it learned asynchronously. Temporal is the
 * only store: this small entity workflow holds the customer's tokens (masked card data only).
 */
import {
  condition,
  continueAsNew,
  allHandlersFinished,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { paymentTokenSignal, tokensQuery, type PaymentTokenRecord } from './definitions';

const MAX_TOKENS = 50;

export async function customerTokensWorkflow(input: {
  customerId: string;
  tokens?: PaymentTokenRecord[];
}): Promise<void> {
  let tokens: PaymentTokenRecord[] = input.tokens ?? [];
  setHandler(paymentTokenSignal, (record) => {
    // Keep one record per token: the newest notification about it wins.
    const others = tokens.filter((t) => t.tokenId !== record.tokenId);
    const existing = tokens.find((t) => t.tokenId === record.tokenId);
    const newest = existing && existing.at > record.at ? existing : record;
    tokens = [...others, newest].sort((a, b) => a.at - b.at).slice(-MAX_TOKENS);
  });
  setHandler(tokensQuery, () => tokens);
  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2_000);
  await condition(allHandlersFinished);
  await continueAsNew<typeof customerTokensWorkflow>({ customerId: input.customerId, tokens });
}

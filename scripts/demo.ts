/**
 * `npm run demo`: against a running `npm start`, through the engine's HTTP API and the emulator's
 * `/_emulator` API only. A monthly subscription runs through four cycles in a few seconds by moving
 * the emulator's clock; cycle 3 is declined and then recovered with the merchant's "charge now".
 *
 * What it shows, honestly: the dunning episode opens on the failure, with its attempts scheduled
 * (1 h and 1 d after the failure, as QFPay's time sees it). Those timers run on Temporal's real
 * clock, which the emulator's clock jump does not move, so they would fire only in real time; the
 * demo recovers the order with `POST /v1/subscriptions/:id/charge` instead, before the next
 * billing time, which is what keeps the plan alive at QFPay.
 */
import { StackConfigError, loadStackConfig } from '../src/dev/stack-config';
import { StackClient, StackClientError, endpointsOf, type SubscriptionView } from '../src/dev/stack-client';

const started = Date.now();
const step = (message: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);

function printSnapshot(view: SubscriptionView): void {
  const out: string[] = [];
  out.push('', `Subscription ${view.subscription_id} — the engine's snapshot`, '');
  out.push(`  state              ${view.state}`);
  out.push(
    `  completed cycles   ${view.completed_cycles}${view.total_billing_cycles ? ` of ${view.total_billing_cycles}` : ''}`,
  );
  out.push(`  next billing time  ${view.next_billing_time ?? '—'}`);
  out.push('', '  orders');
  for (const o of view.recent_orders) {
    const paid = o.paid_at ? `paid ${o.paid_at}` : `respcd ${o.respcd ?? '—'}`;
    out.push(
      `    #${o.sequence_no} ${o.status.padEnd(6)} ${o.trigger_by ?? ''} failures=${o.failures}  ${paid}`,
    );
  }
  out.push('', '  transitions');
  for (const t of view.transitions) out.push(`    ${t.at}  ${t.from} → ${t.to}  (${t.cause})`);
  out.push('', '  dunning history');
  for (const e of view.dunning.history) {
    out.push(
      `    order #${e.sequence_no}: ${e.outcome ?? e.stage} — ${e.outcome_detail ?? ''}`.trimEnd(),
      `      failed ${e.failure_at}, deadline ${e.deadline}, scheduled attempts ${e.schedule.join(', ') || 'none'}, attempts made ${e.attempts.length}`,
    );
  }
  if (view.dunning.history.length === 0) out.push('    (none)');
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  const config = loadStackConfig();
  if (!config.useEmulator) {
    throw new StackClientError(
      'http',
      'the demo needs the QFPay emulator; QFPAY_BASE_URL points at QFPay itself',
    );
  }
  const client = new StackClient(endpointsOf(config));
  await client.assertRunning();
  step(`stack is up: API ${client.endpoints.apiUrl}, emulator ${client.endpoints.emulatorUrl}`);

  const sub = await client.createSubscription({
    name: 'Ada Lovelace',
    interval: 'monthly',
    amount: 9_900,
    totalBillingCycles: 12,
    dunningPolicy: { attempt_offsets: ['1h', '1d'], final_action: 'leave_to_qfpay' },
    idempotencyKey: `demo-${new Date().toISOString()}`,
  });
  step(`customer ${sub.customerId}, card token ${sub.tokenId}, product ${sub.productId} (HK$99.00 monthly)`);
  step(`subscription ${sub.subscriptionId} created (Idempotency-Key ${sub.idempotencyKey})`);
  const { subscriptionId } = sub;

  await client.waitForSubscription(
    subscriptionId,
    'cycle 1 paid',
    (v) => v.state === 'ACTIVE' && v.completed_cycles === 1,
  );
  step('cycle 1 paid at creation: ACTIVE');

  let billed = await client.advanceToNextBilling(subscriptionId);
  await client.waitForSubscription(subscriptionId, 'cycle 2 paid', (v) => v.completed_cycles === 2);
  step(`emulator clock moved to ${billed}: cycle 2 paid`);

  await client.setTokenCharges(sub.tokenId, 'decline', '1205');
  step('the card now declines (emulator: token behaviour decline, respcd 1205)');
  billed = await client.advanceToNextBilling(subscriptionId);
  const pastDue = await client.waitForSubscription(
    subscriptionId,
    'cycle 3 declined and a dunning episode open',
    (v) => v.state === 'PAST_DUE' && v.dunning.episode !== null,
  );
  const episode = pastDue.dunning.episode!;
  step(`emulator clock moved to ${billed}: cycle 3 declined → PAST_DUE`);
  step(
    `dunning episode opened for order #${episode.sequence_no}: attempts scheduled at ${episode.schedule.join(', ')}, deadline ${episode.deadline}`,
  );

  await client.setTokenCharges(sub.tokenId, 'approve');
  step('the customer fixed their card (token behaviour approve)');
  const charge = await client.chargeNow(subscriptionId);
  step(
    `merchant's "charge now" (POST /v1/subscriptions/${subscriptionId}/charge): ${charge.outcome}, respcd ${charge.respcd}`,
  );
  await client.waitForSubscription(
    subscriptionId,
    'recovered',
    (v) => v.state === 'ACTIVE' && v.dunning.history.at(-1)?.outcome === 'recovered',
  );
  step('order #3 paid before the next billing time: ACTIVE again, dunning episode recovered');

  billed = await client.advanceToNextBilling(subscriptionId);
  const final = await client.waitForSubscription(
    subscriptionId,
    'cycle 4 paid',
    (v) => v.completed_cycles === 4,
  );
  step(`emulator clock moved to ${billed}: cycle 4 paid`);

  printSnapshot(final);
  const queries = [
    `SubscriptionId="${subscriptionId}"`,
    `SubscriptionState="ACTIVE"`,
    `CustomerId="${sub.customerId}"`,
    `Gateway="qfpay"`,
    `SubscriptionState="PAST_DUE"`,
    `DunningStage="retrying"`,
  ];
  process.stdout.write(
    [
      '',
      'In the Temporal Web UI:',
      `  this workflow     ${client.workflowUrl(final.workflow_id)}`,
      ...queries.map((q) => `  ${q.padEnd(58)} ${client.workflowListUrl(q)}`),
      '',
      `Snapshot as JSON: curl -s -H 'Authorization: Bearer ${client.endpoints.apiKey}' ${client.endpoints.apiUrl}/v1/subscriptions/${subscriptionId}`,
      `Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  if (err instanceof StackClientError || err instanceof StackConfigError) {
    process.stderr.write(`demo failed: ${err.message}\n`);
  } else {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});

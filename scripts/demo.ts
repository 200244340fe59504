/**
 * `npm run demo`: against a running `npm start`, through the engine's HTTP API and the emulator's
 * `/_emulator` API only. A test clock carries a monthly subscription through a year in one
 * advance: its card declines at the third renewal and is fixed half a day later, so the engine's
 * first manual charge (an hour after the failure) is declined and its second (a day after) pays,
 * before the next billing time. Both sides move on the clock: the emulator's billing and the
 * engine's own dunning attempts, in time order (docs/test-clocks.md). Then the plan completes.
 */
import { StackConfigError, loadStackConfig } from '../src/dev/stack-config';
import { StackClient, StackClientError, endpointsOf, type SubscriptionView } from '../src/dev/stack-client';
import { advanceClockScenario, prepareClockScenario } from '../src/dev/clock-scenario';

const iso = (ms: number) => new Date(ms).toISOString();

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

  const scenario = await prepareClockScenario(client, { name: `demo ${new Date().toISOString()}` });
  const clockId = scenario.clock.test_clock_id;
  const sub = scenario.subscription;
  const { subscriptionId } = sub;
  step(`test clock ${clockId} frozen at ${scenario.clock.frozen_time}`);
  step(
    `customer ${sub.customerId}, card token ${sub.tokenId}, product ${sub.productId} (HK$99.00 monthly, 12 cycles), all on the clock`,
  );
  step(`subscription ${subscriptionId} created (Idempotency-Key ${sub.idempotencyKey})`);
  step(
    `the card declines from ${iso(scenario.declinesFromMs)} (so at the third renewal, ${iso(scenario.thirdRenewalMs)}) ` +
      `and is fixed at ${iso(scenario.fixedFromMs)}, between the engine's attempts at +1h and +1d`,
  );
  await client.waitFor(
    'the subscription on its clock',
    async () => ((await client.testClock(clockId)).subscriptions === 1 ? true : undefined),
    60_000,
  );

  step(`one call: POST /v1/test_clocks/${clockId}/advance to ${iso(scenario.targetMs)} (twelve months)`);
  const { clock, view: final, wallMs } = await advanceClockScenario(client, scenario);
  step(
    `test clock ${clock.status} at ${clock.frozen_time}: a year advanced in ${(wallMs / 1000).toFixed(1)} s`,
  );

  const charges = await client.emulator<{
    data: Array<{ at: string; sequence_no: number; trigger: string; approved: boolean; respcd: string }>;
  }>('GET', `/_emulator/charges?subscription_id=${subscriptionId}`, undefined, clockId);
  process.stdout.write("\nQFPay's charges (the emulator, in the clock's time)\n");
  for (const c of charges.data)
    process.stdout.write(
      `  ${c.at}  order #${String(c.sequence_no).padEnd(2)} ${c.trigger.padEnd(6)} ${c.approved ? 'paid' : `declined (respcd ${c.respcd})`}\n`,
    );

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

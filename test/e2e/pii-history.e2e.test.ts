/**
 * No personal data in Temporal: the whole engine (dev server, worker, API, emulator over HTTP)
 * takes a customer, a subscription (both with metadata, and a change of it), a cancel with a reason, a creation with an inline customer
 * (refused before anything is created) and a creation that fails at QFPay, each carrying unique
 * markers (names, emails, phones, addresses, idempotency keys, the cancel reason). Then every history of the namespace and the visibility list are read raw
 * from the server, and no marker occurs in their bytes. The same histories decrypted through the
 * codec server by the Temporal CLI (`--codec-endpoint`, `--codec-auth`) do show the data, so the
 * search could have found it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { buildCodecServer } from '../../src/codec-server/app';
import { findTemporalCli } from '../../src/dev/temporal-binaries';
import { createLogger } from '../../src/logger';
import { payloadCodec } from '../../src/temporal/data-converter';
import { eventually, startStack, type Stack } from '../helpers/stack';

const run = promisify(execFile);
const id = () => randomUUID().replace(/-/g, '').slice(0, 12);
const CODEC_TOKEN = `codec-${randomUUID()}`;

/** Every marker the test puts into requests: none may reach Temporal in clear. */
const marker = {
  name: `Pii Name ${id()}`,
  email: `pii.${id()}@example.com`,
  phone: `+852 6${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
  street: `PII-STREET-${id()}`,
  inlineName: `Inline Person ${id()}`,
  inlineEmail: `inline.${id()}@example.com`,
  inlineStreet: `PII-INLINE-STREET-${id()}`,
  customerKey: `PII-CUSTOMER-KEY-${id()}`,
  subscriptionKey: `PII-SUBSCRIPTION-KEY-${id()}`,
  inlineKey: `PII-INLINE-KEY-${id()}`,
  failingKey: `PII-FAILING-KEY-${id()}`,
  cancelReason: `PII-CANCEL-REASON-${id()}`,
  customerMetadata: `PII-CUSTOMER-METADATA-${id()}`,
  subscriptionMetadata: `PII-SUBSCRIPTION-METADATA-${id()}`,
  changedMetadata: `PII-CHANGED-METADATA-${id()}`,
};

let stack: Stack;
let codecServer: Server;
let codecUrl: string;

before(async () => {
  stack = await startStack();
  const app = buildCodecServer({
    codec: payloadCodec(stack.config),
    tokens: [CODEC_TOKEN],
    corsOrigins: [],
    logger: createLogger('codec', 'silent'),
  });
  codecServer = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  codecUrl = `http://127.0.0.1:${(codecServer.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => codecServer?.close(() => resolve()));
  await stack?.close();
});

/** Every workflow of the namespace, from visibility, with the raw list answers' bytes. */
async function everyExecution(): Promise<{
  executions: Array<{ workflowId: string; runId: string }>;
  bytes: Buffer;
}> {
  const service = stack.env.client.workflowService;
  const namespace = stack.env.namespace ?? 'default';
  const executions: Array<{ workflowId: string; runId: string }> = [];
  const chunks: Buffer[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await service.listWorkflowExecutions({ namespace, pageSize: 100, nextPageToken });
    chunks.push(
      Buffer.from(temporal.api.workflowservice.v1.ListWorkflowExecutionsResponse.encode(page).finish()),
    );
    for (const e of page.executions ?? []) {
      executions.push({ workflowId: e.execution!.workflowId!, runId: e.execution!.runId! });
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return { executions, bytes: Buffer.concat(chunks) };
}

/** A history as the server stores and serves it: every page, encoded back to protobuf bytes. */
async function rawHistory(execution: { workflowId: string; runId: string }): Promise<Buffer> {
  const service = stack.env.client.workflowService;
  const namespace = stack.env.namespace ?? 'default';
  const chunks: Buffer[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await service.getWorkflowExecutionHistory({ namespace, execution, nextPageToken });
    chunks.push(Buffer.from(temporal.api.history.v1.History.encode(page.history ?? {}).finish()));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return Buffer.concat(chunks);
}

describe('personal data in Temporal', () => {
  it('no marker occurs in any raw history or visibility record, and the codec server shows them decrypted', async () => {
    // A customer created idempotently (a creation workflow).
    const customer = await stack.api(
      'POST',
      '/v1/customers',
      {
        name: marker.name,
        email: marker.email,
        phone: marker.phone,
        billing_address: { street: marker.street },
        metadata: { crm_note: marker.customerMetadata },
      },
      { 'idempotency-key': marker.customerKey },
    );
    assert.equal(customer.status, 201, JSON.stringify(customer.body));
    assert.equal(customer.body.metadata.crm_note, marker.customerMetadata);

    // A subscription for that customer, with an inline product.
    const token = await stack.emulator('POST', '/_emulator/tokens', {
      customer_id: customer.body.customer_id,
      card_number: '5200000000001096',
      expiry_date: '12/30',
    });
    const created = await stack.api(
      'POST',
      '/v1/subscriptions',
      {
        customer_id: customer.body.customer_id,
        product: {
          name: 'Privacy plan',
          amount: 990,
          currency: 'HKD',
          interval: 'monthly',
          interval_count: 1,
        },
        token_id: token.token_id,
        metadata: { order_note: marker.subscriptionMetadata },
      },
      { 'idempotency-key': marker.subscriptionKey },
    );
    assert.ok([201, 202].includes(created.status), JSON.stringify(created.body));
    const done = await eventually(
      'the creation to complete',
      async () => {
        const c = await stack.api(
          'GET',
          `/v1/subscriptions/creations/${encodeURIComponent(marker.subscriptionKey)}`,
        );
        return c.body?.status === 'completed' ? c.body : undefined;
      },
      60_000,
    );
    const subscriptionId: string = done.result.subscription_id;

    // Metadata changed on the subscription (its memo and search attribute written again).
    const changed = await stack.api('POST', `/v1/subscriptions/${subscriptionId}/metadata`, {
      metadata: { later_note: marker.changedMetadata },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.metadata.order_note, marker.subscriptionMetadata);

    // A cancel with a free-text reason.
    const cancelled = await stack.api('POST', `/v1/subscriptions/${subscriptionId}/cancel`, {
      reason: marker.cancelReason,
    });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));

    // A creation with an inline customer, refused before anything is created (a new customer can
    // own no card token): its personal data must not reach Temporal either.
    const inline = await stack.api(
      'POST',
      '/v1/subscriptions',
      {
        customer: {
          name: marker.inlineName,
          email: marker.inlineEmail,
          billing_address: { street: marker.inlineStreet },
        },
        product_id: 'prod_privacy',
        token_id: token.token_id,
      },
      { 'idempotency-key': marker.inlineKey },
    );
    assert.equal(inline.status, 400, JSON.stringify(inline.body));

    // A creation that fails at QFPay (no such customer): its key in the start, a failure.
    const failing = await stack.api(
      'POST',
      '/v1/subscriptions',
      { customer_id: 'cust_privacy_unknown', product_id: done.result.product_id, token_id: token.token_id },
      { 'idempotency-key': marker.failingKey },
    );
    assert.equal(failing.status, 404, JSON.stringify(failing.body));

    const { executions, bytes: visibility } = await everyExecution();
    assert.ok(executions.length >= 4, `workflows: ${executions.map((e) => e.workflowId).join(', ')}`);
    const found: string[] = [];
    const sources: Array<[string, Buffer]> = [['visibility', visibility]];
    for (const execution of executions) sources.push([execution.workflowId, await rawHistory(execution)]);
    for (const [where, bytes] of sources) {
      for (const [name, value] of Object.entries(marker)) {
        if (bytes.includes(Buffer.from(value, 'utf8'))) found.push(`${name} in ${where}`);
      }
    }
    assert.deepEqual(found, [], 'personal data in Temporal');
    process.stdout.write(
      `# PII markers: ${Object.keys(marker).length} markers, ${sources.length} raw records searched (${executions.length} histories + visibility), ${found.length} found\n`,
    );

    // The control: the CLI decodes through the codec server and sees the customer's data.
    const cli = findTemporalCli();
    assert.ok(cli, 'the Temporal CLI (npm run provision)');
    const failedCreation = await stack.env.client.workflow
      .list({ query: `WorkflowType = 'createSubscriptionWorkflow' AND ExecutionStatus = 'Failed'` })
      [Symbol.asyncIterator]()
      .next();
    assert.ok(failedCreation.value, 'the failed creation');
    const customerCreation = await stack.env.client.workflow
      .list({ query: `WorkflowType = 'createCustomerWorkflow'` })
      [Symbol.asyncIterator]()
      .next();
    const creation = customerCreation.value as { workflowId: string } | undefined;
    assert.ok(creation, "the customer's creation");
    const show = (extra: string[]) =>
      run(cli, [
        'workflow',
        'show',
        '--address',
        stack.env.address,
        '--namespace',
        stack.env.namespace ?? 'default',
        '--workflow-id',
        creation.workflowId,
        '--output',
        'json',
        ...extra,
      ]);
    const decoded = await show(['--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${CODEC_TOKEN}`]);
    // JSON output keeps payload bytes in base64: read them back to text.
    const payloadTexts: string[] = [];
    JSON.parse(decoded.stdout, (key, value: unknown) => {
      if (key === 'data' && typeof value === 'string')
        payloadTexts.push(Buffer.from(value, 'base64').toString());
      return value;
    });
    assert.ok(
      payloadTexts.some((text) => text.includes(marker.email)),
      'the CLI shows the decrypted input',
    );
    const refused = await show(['--codec-endpoint', codecUrl, '--codec-auth', 'Bearer wrong']).then(
      () => 'decoded',
      () => 'refused',
    );
    assert.equal(refused, 'refused', 'a wrong token decodes nothing');
  });
});

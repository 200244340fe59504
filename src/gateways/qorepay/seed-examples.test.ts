/**
 * QorePay's own examples (seed 003, `test/fixtures/seed-003/`, byte for byte) against the
 * emulator over HTTP, and the documented fields that bear on billing: a template created exactly
 * as the seed's cURL shows (inactive, every field), activated by `PUT`; the minimum fields; both
 * `Authorization` forms; a subscriber's `invoice_override`; `subscription_charge_period_end`; the
 * products' discount and tax; `invoice_send_receipt`; the seed's pause body.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emulatorStart } from '../../../test/helpers/emulator-start';
import { monthlyCreation } from '../../../test/helpers/gateway-input';
import type { GatewayEnv } from '../port';
import { emulatorControl } from './emulator/control';
import { qorepayGateway } from './index';

const DAY = 86_400_000;
const fixtures = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'seed-003');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');

/** The seed's JSON as QorePay reads it: two of its examples carry trailing commas. */
function seedJson(text: string): any {
  return JSON.parse(text.replace(/,(\s*[}\]])/g, '$1'));
}

let emulator: Awaited<ReturnType<typeof qorepayGateway.startEmulator>>;
let env: GatewayEnv;
let ctl: ReturnType<typeof emulatorControl>;
let n = 0;

/** A call to QorePay's API with the token as `Authorization` (`bearer`: `Bearer <token>`). */
async function qorepay(
  method: string,
  path: string,
  body?: unknown,
  bearer = true,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${env.QOREPAY_API_URL}/${path}`, {
    method,
    headers: {
      Authorization: bearer ? `Bearer ${env.QOREPAY_API_KEY}` : `${env.QOREPAY_API_KEY}`,
      Accept: 'application/json',
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The seed's template body, its placeholders (brand, currency, price, title) made real. */
function seedTemplate(over: { price?: number; products?: unknown[] } & Record<string, unknown> = {}) {
  const body = seedJson(fixture('create-billing-template.json'));
  n += 1;
  body.brand_id = env.QOREPAY_BRAND_ID;
  body.title = `seed-003-${n}-${process.pid}`;
  body.purchase.currency = 'MYR';
  body.purchase.products[0].price = over.price ?? 1500;
  const { price: _price, products, ...rest } = over;
  if (products) body.purchase.products = products;
  return { ...body, ...rest };
}

async function purchasesOf(templateId: string, clientId?: string): Promise<any[]> {
  const q = `purchases/?billing_template_id=${templateId}${clientId ? `&client_id=${clientId}` : ''}`;
  const res = await qorepay('GET', q);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.results;
}

describe("QorePay's own examples (seed 003) against the emulator", () => {
  before(async () => {
    // A pinned start on a month's last day (the hardest calendar), unless test:dates sets one.
    emulator = await qorepayGateway.startEmulator({
      port: 0,
      ...emulatorStart(Date.parse('2027-01-31T09:00:00Z')),
    });
    env = emulator.env;
    ctl = emulatorControl(emulator.url);
  });
  after(async () => emulator.close());

  it('are JSON but for trailing commas, which QorePay’s examples carry', () => {
    assert.throws(() => JSON.parse(fixture('add-subscriber.json')));
    assert.throws(() => JSON.parse(fixture('invoice-override.json')));
    assert.equal(seedJson(fixture('add-subscriber.json')).client_id, 'b79d3df6-2f69-4426-acee-eda049d83e18');
    assert.equal(seedJson(fixture('invoice-override.json')).invoice_override.total_override, 575);
    assert.deepEqual(seedJson(fixture('pause-subscriber.json')), { status: 'subscription_paused' });
  });

  it('take a template exactly as the cURL creates it (inactive, every field), bill nothing until PUT activates it', async () => {
    const body = seedTemplate();
    assert.equal(body.subscription_active, false);
    // The seed's first cURL sends the token without `Bearer`.
    const created = await qorepay('POST', 'billing_templates/', body, false);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const t = created.body;
    assert.equal(t.invoice_send_receipt, false);
    assert.equal(t.subscription_charge_period_end, false);
    assert.equal(t.purchase.notes, 'string');
    assert.deepEqual(
      { ...t.purchase.products[0] },
      { name: 'string', quantity: '1', price: 1500, discount: 0, tax_percent: '0', category: 'string' },
    );
    const client = seedJson(fixture('add-subscriber.json')).client_id as string;
    const added = await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, { client_id: client });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await ctl.advance(40 * DAY);
    assert.deepEqual(await purchasesOf(t.id), [], 'an inactive template bills nobody');

    const activated = await qorepay('PUT', `billing_templates/${t.id}/`, {
      ...body,
      subscription_active: true,
    });
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    assert.equal(activated.body.subscription_active, true);
    await ctl.advance(31 * DAY);
    const purchases = await purchasesOf(t.id);
    assert.equal(purchases.length, 1, 'the dates passed while inactive are not billed later');
    const [purchase] = purchases;
    assert.equal(purchase?.purchase.total, 1500, JSON.stringify(purchase));
    assert.equal(purchase.client_id, client);
  });

  it('refuse a template without the minimum fields, naming each', async () => {
    const {
      title: _t,
      subscription_charge_period_end: _c,
      subscription_trial_periods: _tr,
      subscription_due_period: _d,
      subscription_due_period_units: _du,
      subscription_active: _a,
      ...rest
    } = seedTemplate();
    const refused = await qorepay('POST', 'billing_templates/', rest);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.deepEqual(Object.keys(refused.body).sort(), [
      'subscription_active',
      'subscription_charge_period_end',
      'subscription_due_period',
      'subscription_due_period_units',
      'subscription_trial_periods',
      'title',
    ]);
  });

  it("bill a subscriber with the seed's invoice_override its own total, and the others the template's", async () => {
    const t = (
      await qorepay('POST', 'billing_templates/', seedTemplate({ price: 12345, subscription_active: true }))
    ).body;
    const override = seedJson(fixture('invoice-override.json'));
    const special = await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, {
      client_id: 'client-special',
      ...override,
    });
    assert.equal(special.status, 201, JSON.stringify(special.body));
    await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, { client_id: 'client-plain' });
    assert.deepEqual(
      (await purchasesOf(t.id, 'client-special')).map((p) => p.purchase.total),
      [575],
    );
    assert.deepEqual(
      (await purchasesOf(t.id, 'client-plain')).map((p) => p.purchase.total),
      [12345],
    );
  });

  it('bill at the end of each cycle with subscription_charge_period_end', async () => {
    const t = (
      await qorepay(
        'POST',
        'billing_templates/',
        seedTemplate({ subscription_active: true, subscription_charge_period_end: true }),
      )
    ).body;
    await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, { client_id: 'client-end' });
    assert.deepEqual(await purchasesOf(t.id), [], 'nothing at the start of the first cycle');
    await ctl.advance(32 * DAY);
    assert.equal((await purchasesOf(t.id)).length, 1, 'the first cycle is billed at its end');
  });

  it("price each line as quantity × price − discount, plus tax_percent (QorePay's total_override wins)", async () => {
    const products = [
      { name: 'Plan', price: 1000, quantity: '2', discount: 100, tax_percent: '10.00', category: 'plan' },
      { name: 'Add-on', price: 250, quantity: '1.0000', discount: 0, tax_percent: '0' },
    ];
    const t = (
      await qorepay('POST', 'billing_templates/', seedTemplate({ products, subscription_active: true }))
    ).body;
    await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, { client_id: 'client-tax' });
    // (2 × 1000 − 100) × 1.10 + 250 = 2340
    assert.deepEqual(
      (await purchasesOf(t.id)).map((p) => p.purchase.total),
      [2340],
    );
  });

  it('email a receipt for a paid purchase unless invoice_send_receipt is false; the adapter turns it off', async () => {
    const silent = (await qorepay('POST', 'billing_templates/', seedTemplate({ subscription_active: true })))
      .body;
    const loud = (
      await qorepay(
        'POST',
        'billing_templates/',
        seedTemplate({ subscription_active: true, invoice_send_receipt: true }),
      )
    ).body;
    await qorepay('POST', `billing_templates/${silent.id}/add_subscriber/`, { client_id: 'client-silent' });
    await qorepay('POST', `billing_templates/${loud.id}/add_subscriber/`, { client_id: 'client-loud' });
    const state = await ctl.state();
    const receipt = (id: string) =>
      (state.purchases as Array<{ billing_template_id: string; receipt_sent?: boolean }>).find(
        (p) => p.billing_template_id === id,
      )?.receipt_sent;
    assert.equal(receipt(silent.id), false);
    assert.equal(receipt(loud.id), true);

    const adapter = qorepayGateway.adapter(env);
    const created = await adapter.create(
      monthlyCreation(`seed-003-adapter-${process.pid}`, 'client-adapter'),
    );
    const templateId = created.subscriptionId.split('~')[0]!;
    const template = await qorepay('GET', `billing_templates/${templateId}/`);
    assert.equal(template.body.invoice_send_receipt, false, 'the merchant sends its own messages');
  });

  it("amend a subscriber's billing details with PATCH: its next purchase bills the new terms", async () => {
    const t = (await qorepay('POST', 'billing_templates/', seedTemplate({ subscription_active: true }))).body;
    await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, { client_id: 'client-amend' });
    const amended = await qorepay('PATCH', `billing_templates/${t.id}/clients/client-amend/`, {
      invoice_override: { total_override: 900 },
    });
    assert.equal(amended.status, 200, JSON.stringify(amended.body));
    assert.equal(amended.body.status, 'active', 'the status is left as it was');
    await ctl.advance(32 * DAY);
    assert.deepEqual(
      (await purchasesOf(t.id, 'client-amend')).map((p) => p.purchase.total),
      [1500, 900],
    );
    const empty = await qorepay('PATCH', `billing_templates/${t.id}/clients/client-amend/`, {});
    assert.equal(empty.status, 400, 'a PATCH that changes nothing');
  });

  it('send a one-time invoice from a non-subscription template, and refuse it on a subscription one', async () => {
    const once = (await qorepay('POST', 'billing_templates/', seedTemplate({ is_subscription: false }))).body;
    const sent = await qorepay('POST', `billing_templates/${once.id}/send_invoice/`, {
      client_id: 'client-once',
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 'sent');
    assert.equal(sent.body.purchase.total, 1500);
    assert.deepEqual(
      (await purchasesOf(once.id, 'client-once')).map((p) => p.id),
      [sent.body.id],
    );
    const recurring = (
      await qorepay('POST', 'billing_templates/', seedTemplate({ subscription_active: true }))
    ).body;
    const refused = await qorepay('POST', `billing_templates/${recurring.id}/send_invoice/`, {
      client_id: 'client-once',
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.ok('is_subscription' in refused.body);
  });

  it("pause a subscriber with the seed's body", async () => {
    const t = (await qorepay('POST', 'billing_templates/', seedTemplate({ subscription_active: true }))).body;
    await qorepay('POST', `billing_templates/${t.id}/add_subscriber/`, { client_id: 'client-pause' });
    const paused = await qorepay(
      'PATCH',
      `billing_templates/${t.id}/clients/client-pause/`,
      seedJson(fixture('pause-subscriber.json')),
    );
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.status, 'subscription_paused');
  });
});

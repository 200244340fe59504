import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signRequest, wireParams } from '../../src/gateways/qfpay/signing';
import { useTestEmulator, TEST_APP_KEY } from '../helpers/emulator-client';

describe('QFPay emulator API: signatures, validation, objects', () => {
  const t = useTestEmulator();

  describe('signatures', () => {
    it('accepts an MD5-signed request, with or without X-QF-SIGNTYPE', async () => {
      const plain = await t.client.call('/customer/v1/create', { name: 'Ada' });
      assert.equal(plain.body.respcd, '0000');
      const explicit = await t.client.call('/customer/v1/create', { name: 'Ada' }, { sendSignType: true });
      assert.equal(explicit.body.respcd, '0000');
    });

    it('accepts a SHA256-signed request', async () => {
      const { body } = await t.client.call('/customer/v1/create', { name: 'Ada' }, { signType: 'SHA256' });
      assert.equal(body.respcd, '0000');
    });

    it('answers 1108 with HTTP 200 for a wrong signature, and creates nothing', async () => {
      const { status, body } = await t.client.call(
        '/customer/v1/create',
        { name: 'Ada' },
        { sign: 'ABC123' },
      );
      assert.equal(status, 200);
      assert.equal(body.respcd, '1108');
      assert.equal(t.emulator.emulator.store.customers.size, 0);
    });

    it('answers 1108 for a missing signature, a missing or unknown app code, a wrong key, an unknown sign type', async () => {
      const cases = [
        { sign: null },
        { appCode: null },
        { appCode: 'someone-else' },
        { appKey: 'not-the-key' },
      ] as const;
      for (const options of cases) {
        const { body } = await t.client.call('/customer/v1/create', { name: 'Ada' }, options);
        assert.equal(body.respcd, '1108', JSON.stringify(options));
      }
      const wire = wireParams({ name: 'Ada' });
      const response = await fetch(`${t.emulator.url}/customer/v1/create`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-QF-APPCODE': t.client.appCode,
          'X-QF-SIGN': signRequest(wire, TEST_APP_KEY),
          'X-QF-SIGNTYPE': 'SHA1',
        },
        body: new URLSearchParams(wire).toString(),
      });
      assert.equal(((await response.json()) as { respcd: string }).respcd, '1108');
    });

    it('signs only the non-empty parameters, as QFPay does', async () => {
      const wire = { name: 'Ada', phone: '' };
      const response = await fetch(`${t.emulator.url}/customer/v1/create`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-QF-APPCODE': t.client.appCode,
          'X-QF-SIGN': signRequest({ name: 'Ada' }, TEST_APP_KEY),
        },
        body: new URLSearchParams(wire).toString(),
      });
      assert.equal(((await response.json()) as { respcd: string }).respcd, '0000');
    });
  });

  describe('customers', () => {
    it('creates, updates, queries and deletes a customer with a JSON billing address', async () => {
      const address = { line1: '1 Queen’s Road', city: 'Hong Kong' };
      const created = await t.client.ok<Record<string, unknown>>('/customer/v1/create', {
        name: 'Ada',
        email: 'ada@example.com',
        billing_address: address,
      });
      const id = String(created.customer_id);
      assert.match(id, /^cust_[0-9a-f]{32}$/);
      assert.deepEqual(created.billing_address, address);

      const updated = await t.client.ok<Record<string, unknown>>('/customer/v1/update', {
        customer_id: id,
        phone: '+85212345678',
      });
      assert.equal(updated.rowAffected, 1);
      assert.equal(updated.phone, '+85212345678');

      const found = await t.client.call<Record<string, unknown>[]>('/customer/v1/query', {
        email: 'ada@example.com',
      });
      assert.equal(found.body.page, 1);
      assert.equal(found.body.page_size, 10);
      assert.deepEqual(
        found.body.data.map((c) => c.customer_id),
        [id],
      );

      const deleted = await t.client.ok<Record<string, unknown>>('/customer/v1/delete', { customer_id: id });
      assert.deepEqual(deleted, { customer_id: id, rowDeleted: 1 });
      assert.deepEqual(await t.client.ok('/customer/v1/query', { customer_id: id }), []);
    });

    it('answers 1104 for a missing customer_id and 1136 for an unknown one', async () => {
      assert.equal((await t.client.call('/customer/v1/update', { name: 'x' })).body.respcd, '1104');
      assert.equal((await t.client.call('/customer/v1/delete', {})).body.respcd, '1104');
      const unknown = 'cust_00000000000000000000000000000000';
      assert.equal(
        (await t.client.call('/customer/v1/update', { customer_id: unknown })).body.respcd,
        '1136',
      );
      assert.equal(
        (await t.client.call('/customer/v1/delete', { customer_id: unknown })).body.respcd,
        '1136',
      );
    });

    it('answers 1104 for a billing_address that is not JSON', async () => {
      const { body } = await t.client.call('/customer/v1/create', { billing_address: '{not json' });
      assert.equal(body.respcd, '1104');
    });

    it('cancels every running subscription of a deleted customer', async () => {
      const { customerId, tokenId, productId, subscriptionId } = await t.client.subscribe();
      const trial = await t.client.ok<{ subscription_id: string; state: string }>('/subscription/v1/create', {
        customer_id: customerId,
        token_id: tokenId,
        products: [{ product_id: productId }],
        start_time: '2025-03-01 10:00:00',
      });
      assert.equal(trial.state, 'TRIAL');
      await t.client.ok('/customer/v1/delete', { customer_id: customerId });
      assert.equal((await t.client.queryRow(subscriptionId)).state, 'CANCELLED');
      assert.equal((await t.client.queryRow(trial.subscription_id)).state, 'CANCELLED');
      await t.emulator.settle();
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'CANCELLED']);
      assert.deepEqual(t.receiver.states(trial.subscription_id), ['TRIAL', 'CANCELLED']);
      // A cancelled plan is never billed again.
      await t.client.advance({ ms: 400 * 86_400_000 });
      assert.equal((await t.client.inspect(subscriptionId)).orders.length, 1);
      assert.equal((await t.client.inspect(trial.subscription_id)).orders.length, 0);
    });
  });

  describe('products', () => {
    it('creates a one-time product by default and a recurring one with interval and interval_count', async () => {
      const onetime = await t.client.ok<Record<string, unknown>>('/product/v1/create', {
        name: 'Setup fee',
        txamt: 500,
        txcurrcd: 'hkd',
      });
      assert.match(String(onetime.product_id), /^prod_[0-9a-f]{32}$/);
      assert.equal(onetime.type, 'onetime');
      assert.equal(onetime.txcurrcd, 'HKD');
      assert.equal(onetime.usage_type, 'licensed');
      const recurring = await t.client.ok<Record<string, unknown>>('/product/v1/create', {
        name: 'Every five minutes',
        type: 'recurring',
        txamt: 300,
        txcurrcd: 'HKD',
        interval: 'minutes',
        interval_count: 5,
      });
      assert.equal(recurring.interval, 'minutes');
      assert.equal(recurring.interval_count, 5);
    });

    it('answers 1104 for missing mandatory fields and bad values', async () => {
      const base = {
        name: 'Plan',
        type: 'recurring',
        txamt: 300,
        txcurrcd: 'HKD',
        interval: 'monthly',
        interval_count: 1,
      };
      const bad: Record<string, unknown>[] = [
        { ...base, name: undefined },
        { ...base, txamt: undefined },
        { ...base, txcurrcd: undefined },
        { ...base, txamt: 'ten' },
        { ...base, txamt: 0 },
        { ...base, type: 'lifetime' },
        { ...base, interval: undefined },
        { ...base, interval_count: undefined },
        { ...base, interval: 'fortnightly' },
        { ...base, interval_count: 13 },
        { ...base, interval: 'yearly', interval_count: 2 },
        { ...base, usage_type: 'metered' },
      ];
      for (const params of bad) {
        const { status, body } = await t.client.call('/product/v1/create', params as never);
        assert.equal(status, 200);
        assert.equal(body.respcd, '1104', JSON.stringify(params));
      }
      assert.equal(t.emulator.emulator.store.products.size, 0);
    });

    it('updates name and description, and filters queries', async () => {
      const productId = await t.client.createProduct();
      await t.client.createProduct({ name: 'Yearly plan', interval: 'yearly', txcurrcd: 'USD' });
      const updated = await t.client.ok<Record<string, unknown>>('/product/v1/update', {
        product_id: productId,
        name: 'Renamed',
        description: 'now with more',
      });
      assert.equal(updated.name, 'Renamed');
      assert.equal(updated.rowAffected, 1);
      const monthly = await t.client.ok<Record<string, unknown>[]>('/product/v1/query', {
        interval: 'monthly',
      });
      assert.deepEqual(
        monthly.map((p) => p.product_id),
        [productId],
      );
      const usd = await t.client.ok<Record<string, unknown>[]>('/product/v1/query', { txcurrcd: 'USD' });
      assert.equal(usd.length, 1);
    });

    it('refuses to delete a product that a subscription uses (1104), deletes an unused one', async () => {
      const { productId } = await t.client.subscribe();
      assert.equal(
        (await t.client.call('/product/v1/delete', { product_id: productId })).body.respcd,
        '1104',
      );
      const unused = await t.client.createProduct();
      assert.deepEqual(await t.client.ok('/product/v1/delete', { product_id: unused }), {
        product_id: unused,
        rowDeleted: 1,
      });
      assert.equal((await t.client.call('/product/v1/delete', { product_id: unused })).body.respcd, '1136');
      assert.equal((await t.client.call('/product/v1/delete', {})).body.respcd, '1104');
    });
  });

  describe('payment tokens (emulator-only)', () => {
    it('tokenises a card: NEW, then MATCH for the same card, CONFLICT for other details', async () => {
      const customerId = await t.client.createCustomer();
      const first = await t.client.control<Record<string, unknown>>('POST', '/tokens', {
        customer_id: customerId,
        card_number: '4000000000001091',
        expiry_date: '12/30',
        holder_name: 'ADA LOVELACE',
      });
      assert.equal(first.status, 201);
      assert.equal(first.body.event, 'NEW');
      assert.equal(first.body.cardcd, '4000****1091');
      assert.equal(first.body.card_scheme, 'VISA');
      assert.match(String(first.body.token_id), /^tk_[0-9a-f]{32}$/);
      const again = await t.client.control<Record<string, unknown>>('POST', '/tokens', {
        customer_id: customerId,
        card_number: '4000 0000 0000 1091',
        expiry_date: '12/2030',
      });
      assert.equal(again.body.event, 'MATCH');
      assert.equal(again.body.token_id, first.body.token_id);
      const conflict = await t.client.control<Record<string, unknown>>('POST', '/tokens', {
        customer_id: customerId,
        card_number: '4000000000001091',
        expiry_date: '11/31',
      });
      assert.equal(conflict.body.event, 'CONFLICT');
      await t.emulator.settle();
      assert.deepEqual(
        t.receiver.payloads('payment_token').map((p) => p.event),
        ['NEW', 'MATCH', 'CONFLICT'],
      );
    });

    it('fails tokenisation for the cards declined at verification and at 3DS', async () => {
      const customerId = await t.client.createCustomer();
      for (const [card, type] of [
        ['5200000000001120', 'card_declined'],
        ['4000000000001125', 'card_declined'],
        ['5200000000001013', 'three_ds_declined'],
        ['4000000000001018', 'three_ds_declined'],
      ] as const) {
        const reply = await t.client.control<{ error: { type: string } }>('POST', '/tokens', {
          customer_id: customerId,
          card_number: card,
        });
        assert.equal(reply.status, 402, card);
        assert.equal(reply.body.error.type, type);
      }
      assert.equal(t.emulator.emulator.store.tokens.size, 0);
    });

    it('rejects an unknown customer (404) and a malformed card number (400)', async () => {
      const unknown = await t.client.control('POST', '/tokens', {
        customer_id: 'cust_00000000000000000000000000000000',
        card_number: '5200000000001096',
      });
      assert.equal(unknown.status, 404);
      const customerId = await t.client.createCustomer();
      const malformed = await t.client.control('POST', '/tokens', {
        customer_id: customerId,
        card_number: '12ab',
      });
      assert.equal(malformed.status, 400);
    });
  });

  describe('subscriptions', () => {
    it('answers 1104 for missing mandatory fields or bad values, 1136 for unknown objects', async () => {
      const customerId = await t.client.createCustomer();
      const tokenId = await t.client.createToken(customerId);
      const productId = await t.client.createProduct();
      const onetime = await t.client.ok<{ product_id: string }>('/product/v1/create', {
        name: 'Fee',
        txamt: 100,
        txcurrcd: 'HKD',
      });
      const products = [{ product_id: productId, quantity: 1 }];
      const base = { customer_id: customerId, token_id: tokenId, products };
      const cases: [Record<string, unknown>, string][] = [
        [{ ...base, customer_id: undefined }, '1104'],
        [{ ...base, token_id: undefined }, '1104'],
        [{ ...base, products: undefined }, '1104'],
        [{ ...base, products: '[{"product_id":' }, '1104'],
        [{ ...base, products: [] }, '1104'],
        [{ ...base, products: [{ product_id: productId, quantity: 0 }] }, '1104'],
        [{ ...base, products: [{ product_id: onetime.product_id }] }, '1104'],
        [{ ...base, total_billing_cycles: 0 }, '1104'],
        [{ ...base, start_time: 'next tuesday' }, '1104'],
        [{ ...base, customer_id: 'cust_00000000000000000000000000000000' }, '1136'],
        [{ ...base, token_id: 'tk_00000000000000000000000000000000' }, '1136'],
        [{ ...base, products: [{ product_id: 'prod_00000000000000000000000000000000' }] }, '1136'],
      ];
      for (const [params, respcd] of cases) {
        const { status, body } = await t.client.call('/subscription/v1/create', params as never);
        assert.equal(status, 200);
        assert.equal(body.respcd, respcd, JSON.stringify(params));
      }
      assert.equal(t.emulator.emulator.store.subscriptions.size, 0);
    });

    it('refuses a token that belongs to another customer (1104)', async () => {
      const owner = await t.client.createCustomer();
      const tokenId = await t.client.createToken(owner);
      const other = await t.client.createCustomer();
      const productId = await t.client.createProduct();
      const { body } = await t.client.call('/subscription/v1/create', {
        customer_id: other,
        token_id: tokenId,
        products: [{ product_id: productId }],
      });
      assert.equal(body.respcd, '1104');
    });

    it('queries with both subscription_id spellings, filters, and pages of at most 100', async () => {
      const a = await t.client.subscribe();
      const b = await t.client.subscribe();
      const byId = await t.client.ok<Record<string, unknown>[]>('/subscription/v1/query', {
        subscription_id: a.subscriptionId,
      });
      assert.deepEqual(
        byId.map((r) => r.subscription_id),
        [a.subscriptionId],
      );
      const byTypo = await t.client.ok<Record<string, unknown>[]>('/subscription/v1/query', {
        subscritpion_id: b.subscriptionId,
      });
      assert.deepEqual(
        byTypo.map((r) => r.subscription_id),
        [b.subscriptionId],
      );
      const byToken = await t.client.ok<Record<string, unknown>[]>('/subscription/v1/query', {
        token_id: b.tokenId,
      });
      assert.equal(byToken.length, 1);
      const byCustomer = await t.client.ok<Record<string, unknown>[]>('/subscription/v1/query', {
        customer_id: a.customerId,
      });
      assert.equal(byCustomer.length, 1);
      const active = await t.client.ok<Record<string, unknown>[]>('/subscription/v1/query', {
        state: 'active',
      });
      assert.equal(active.length, 2);
      assert.deepEqual(await t.client.ok('/subscription/v1/query', { state: 'incomplete' }), []);

      const second = await t.client.call<unknown[]>('/subscription/v1/query', { page: 2, page_size: 1 });
      assert.equal(second.body.page, 2);
      assert.equal(second.body.page_size, 1);
      assert.equal(second.body.data.length, 1);
      const tooBig = await t.client.call('/subscription/v1/query', { page_size: 101 });
      assert.equal(tooBig.body.respcd, '1104');
      assert.equal((await t.client.call('/subscription/v1/query', { page: 0 })).body.respcd, '1104');
    });

    it('shows every documented field in a query row', async () => {
      const { subscriptionId, customerId, tokenId, productId } = await t.client.subscribe({
        subscription: { total_billing_cycles: 12 },
      });
      const row = await t.client.queryRow(subscriptionId);
      assert.deepEqual(row, {
        subscription_id: subscriptionId,
        customer_id: customerId,
        token_id: tokenId,
        products: [{ product_id: productId, quantity: 1 }],
        total_billing_cycles: 12,
        state: 'ACTIVE',
        next_billing_time: '2025-02-15T02:00:00Z',
        last_billing_time: '2025-01-15T02:00:00Z',
        completed_billing_iteration: 1,
        completed_iteration: 1,
        start_time: '2025-01-15T02:00:00Z',
        retry_attempts: 0,
        last_billing_status: 'SUCCESS',
        is_available: 1,
        userid: 1000001,
      });
      const infinite = await t.client.subscribe();
      assert.equal((await t.client.queryRow(infinite.subscriptionId)).total_billing_cycles, null);
    });

    it('lists billing orders with the documented id format and the payment fields', async () => {
      const { subscriptionId } = await t.client.subscribe();
      const orders = await t.client.call<Record<string, unknown>[]>('/subscription/billing_order/v1/list', {
        subscription_id: subscriptionId,
      });
      assert.equal(orders.body.page, 1);
      const [first] = orders.body.data;
      assert.equal(first?.subscription_order_id, `sub_ord_${subscriptionId.slice(4)}_0001`);
      assert.equal(first?.sequence_no, 1);
      assert.equal(first?.trigger_by, 'auto');
      assert.equal(first?.status, 'PAID');
      assert.equal(first?.respcd, '0000');
      assert.equal(first?.txamt, 300);
      assert.equal(first?.txcurrcd, 'HKD');
      assert.equal(first?.txdtm, '2025-01-15 10:00:00');
      assert.equal(first?.charged_at, '2025-01-15T02:00:00Z');
      assert.match(String(first?.syssn), /^20250115\d{18}$/);
      const missing = await t.client.call('/subscription/billing_order/v1/list', {});
      assert.equal(missing.body.respcd, '1104');
      const unknown = await t.client.call('/subscription/billing_order/v1/list', {
        subscription_id: 'sub_00000000000000000000000000000000',
      });
      assert.equal(unknown.body.respcd, '1136');
    });

    it('updates the token, products and total_billing_cycles, with the documented limits', async () => {
      const { subscriptionId, customerId, productId } = await t.client.subscribe();
      const newToken = await t.client.createToken(customerId, '4000000000001091');
      const updated = await t.client.ok<Record<string, unknown>>('/subscription/v1/update', {
        subscription_id: subscriptionId,
        token_id: newToken,
        products: [{ product_id: productId, quantity: 2 }],
        total_billing_cycles: 5,
      });
      assert.equal(updated.rowAffected, 1);
      assert.equal(updated.token_id, newToken);
      assert.equal(updated.total_billing_cycles, 5);
      await t.client.advance({ ms: 31 * 86_400_000 });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.orders[1]?.status, 'PAID');
      const orders = await t.client.ok<Record<string, unknown>[]>('/subscription/billing_order/v1/list', {
        subscription_id: subscriptionId,
      });
      assert.equal(orders[1]?.txamt, 600);

      const otherOwner = await t.client.createCustomer();
      const foreignToken = await t.client.createToken(otherOwner);
      const cases: [Record<string, unknown>, string][] = [
        [{ subscription_id: subscriptionId, total_billing_cycles: 1 }, '1104'],
        [{ subscription_id: subscriptionId, token_id: foreignToken }, '1104'],
        [{ subscription_id: subscriptionId, token_id: 'tk_00000000000000000000000000000000' }, '1136'],
        [{ subscription_id: subscriptionId, start_time: '2026-01-01 00:00:00' }, '1104'],
        [{ total_billing_cycles: 3 }, '1104'],
        [{ subscription_id: 'sub_00000000000000000000000000000000' }, '1136'],
      ];
      for (const [params, respcd] of cases) {
        assert.equal((await t.client.call('/subscription/v1/update', params as never)).body.respcd, respcd);
      }
    });

    it('completes a subscription whose total_billing_cycles is lowered to the cycles already paid', async () => {
      const { subscriptionId } = await t.client.subscribe();
      await t.client.advance({ ms: 31 * 86_400_000 });
      const updated = await t.client.ok<Record<string, unknown>>('/subscription/v1/update', {
        subscription_id: subscriptionId,
        total_billing_cycles: 2,
      });
      assert.equal(updated.state, 'COMPLETED');
      await t.client.advance({ ms: 62 * 86_400_000 });
      assert.equal((await t.client.inspect(subscriptionId)).orders.length, 2);
    });

    it('answers 1136 for cancelling or charging an unknown subscription and 1268 for an unknown order', async () => {
      const unknown = 'sub_00000000000000000000000000000000';
      assert.equal(
        (await t.client.call('/subscription/v1/cancel', { subscription_id: unknown })).body.respcd,
        '1136',
      );
      assert.equal(
        (await t.client.call('/subscription/v1/charge', { subscription_id: unknown })).body.respcd,
        '1136',
      );
      const { subscriptionId, tokenId } = await t.client.subscribe();
      await t.client.setCharges(tokenId, 'decline');
      await t.client.advance({ ms: 31 * 86_400_000 });
      const { body } = await t.client.call('/subscription/v1/charge', {
        subscription_id: subscriptionId,
        subscription_order_id: `sub_ord_${subscriptionId.slice(4)}_0042`,
      });
      assert.equal(body.respcd, '1268');
    });
  });

  it('answers /healthz and 404 for unknown routes', async () => {
    const health = await fetch(`${t.emulator.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    assert.equal((await fetch(`${t.emulator.url}/nope`)).status, 404);
  });

  it('answers its control API at /_emulator and, for older clients, at /_sandbox alike', async () => {
    const { customerId } = await t.client.subscribe();
    const older = (path: string, init?: RequestInit) => fetch(`${t.emulator.url}/_sandbox${path}`, init);
    // A change made through the older path is seen through the new one, and the other way round.
    const token = await older('/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer_id: customerId, card_number: '4000000000001091' }),
    });
    assert.equal(token.status, 201);
    const { token_id: tokenId } = (await token.json()) as { token_id: string };
    const seen = await t.client.control<{ token_id: string }>('GET', `/tokens/${tokenId}`);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.token_id, tokenId);
    await t.client.control('POST', '/clock/advance', { ms: 60_000 });
    const [clock, olderClock] = await Promise.all([
      t.client.control('GET', '/clock'),
      older('/clock').then(async (res) => ({ status: res.status, body: (await res.json()) as unknown })),
    ]);
    assert.equal(olderClock.status, 200);
    assert.deepEqual(olderClock.body, clock.body);
    // Its errors too: same status, same body.
    const unknown = await older('/subscriptions/sub_nope');
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), (await t.client.control('GET', '/subscriptions/sub_nope')).body);
  });
});

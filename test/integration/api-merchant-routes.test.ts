/**
 * The merchant routes beyond creation, against a real Temporal dev server, a real worker and the
 * QFPay emulator over HTTP: customers and products (read, list, update, delete).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import {
  CustomerListSchema,
  CustomerSchema,
  DeletedSchema,
  ErrorResponseSchema,
  ProductListSchema,
  ProductSchema,
} from '../../src/api/schemas';
import type { QfpayClient } from '../../src/qfpay/client';
import type { SandboxHandle } from '../../src/sandbox/server';
import { auth, useApiEngine } from '../helpers/api-engine';
import { SandboxTestClient } from '../helpers/sandbox-client';

void describe('merchant routes on a real Temporal dev server and the QFPay emulator', () => {
  const engine = useApiEngine('api-merchant-routes');
  let app: Express;
  let qfpay: QfpayClient;
  let sandbox: SandboxHandle;

  before(() => {
    ({ app, qfpay, sandbox } = engine);
  });

  async function createProduct(name: string, amount = 4900) {
    const res = await request(app)
      .post('/v1/products')
      .set(auth)
      .send({ name, amount, currency: 'HKD', interval: 'monthly', interval_count: 1 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return ProductSchema.parse(res.body).product_id;
  }

  void describe('customers', () => {
    void it('lists customers page by page, reads, updates and deletes one', async () => {
      const email = `ada-${Date.now()}@example.com`;
      const ids: string[] = [];
      for (const name of ['Ada', 'Ada', 'Ada']) {
        const res = await request(app).post('/v1/customers').set(auth).send({ name, email });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        ids.push(CustomerSchema.parse(res.body).customer_id);
      }

      const seen: string[] = [];
      let page: number | null = 1;
      while (page !== null) {
        const res: request.Response = await request(app)
          .get(`/v1/customers?email=${encodeURIComponent(email)}&page_size=2&page=${page}`)
          .set(auth);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const body = CustomerListSchema.parse(res.body);
        assert.ok(body.customers.length <= 2);
        seen.push(...body.customers.map((c) => c.customer_id));
        page = body.next_page;
      }
      assert.deepEqual([...seen].sort(), [...ids].sort());

      const updated = await request(app)
        .patch(`/v1/customers/${ids[0]}`)
        .set(auth)
        .send({ name: 'Ada Lovelace', phone: '+852 5555 0101' });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal(CustomerSchema.parse(updated.body).name, 'Ada Lovelace');
      // QFPay itself has the change.
      const atQfpay = await qfpay.queryCustomers({ customer_id: ids[0] });
      assert.equal(atQfpay.items[0]?.name, 'Ada Lovelace');
      assert.equal(atQfpay.items[0]?.phone, '+852 5555 0101');

      const read = await request(app).get(`/v1/customers/${ids[0]}`).set(auth);
      assert.equal(read.status, 200);
      assert.deepEqual(CustomerSchema.parse(read.body), {
        customer_id: ids[0],
        name: 'Ada Lovelace',
        email,
        phone: '+852 5555 0101',
      });

      const deleted = await request(app).delete(`/v1/customers/${ids[2]}`).set(auth);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.deepEqual(DeletedSchema.parse(deleted.body), { id: ids[2], deleted: true });
      const gone = await request(app).get(`/v1/customers/${ids[2]}`).set(auth);
      assert.equal(gone.status, 404);
      assert.equal(ErrorResponseSchema.parse(gone.body).error.code, 'not_found');
    });

    void it('answers 400 naming the field for a bad change, 404 for an unknown customer', async () => {
      const empty = await request(app).patch('/v1/customers/cust_nobody0000').set(auth).send({});
      assert.equal(empty.status, 400);
      const badEmail = await request(app)
        .patch('/v1/customers/cust_nobody0000')
        .set(auth)
        .send({ email: 'x' });
      assert.equal(badEmail.status, 400);
      assert.equal(ErrorResponseSchema.parse(badEmail.body).error.details?.[0]?.path, 'email');
      const badPage = await request(app).get('/v1/customers?page_size=1000').set(auth);
      assert.equal(badPage.status, 400);
      const unknown = await request(app).patch('/v1/customers/cust_nobody0000').set(auth).send({ name: 'N' });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      const unknownDelete = await request(app).delete('/v1/customers/cust_nobody0000').set(auth);
      assert.equal(unknownDelete.status, 404);
    });
  });

  void describe('products', () => {
    void it('lists products, renames one, deletes an unused one and refuses (409) to delete one in use', async () => {
      const name = `Plan ${Date.now()}`;
      const unused = await createProduct(name);
      const used = await createProduct(name, 9900);

      const listed = await request(app)
        .get(`/v1/products?name=${encodeURIComponent(name)}&currency=hkd`)
        .set(auth);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      const list = ProductListSchema.parse(listed.body);
      assert.deepEqual(list.products.map((p) => p.product_id).sort(), [unused, used].sort());
      assert.equal(list.next_page, null);
      assert.equal(list.products.find((p) => p.product_id === used)?.amount, 9900);

      const renamed = await request(app)
        .patch(`/v1/products/${used}`)
        .set(auth)
        .send({ name: `${name} (gold)`, description: 'Gold tier' });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const read = ProductSchema.parse((await request(app).get(`/v1/products/${used}`).set(auth)).body);
      assert.equal(read.name, `${name} (gold)`);
      assert.equal(read.description, 'Gold tier');
      assert.equal(read.amount, 9900);

      // A subscription at QFPay bills `used`.
      const customer = await qfpay.createCustomer({ name: 'Subscriber' });
      const tokenId = await new SandboxTestClient(sandbox.url).createToken(
        customer.customer_id,
        '5200000000001096',
      );
      await qfpay.createSubscription({
        customer_id: customer.customer_id,
        token_id: tokenId,
        products: [{ product_id: used, quantity: 1 }],
      });
      const refused = await request(app).delete(`/v1/products/${used}`).set(auth);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(ErrorResponseSchema.parse(refused.body).error.message, /used by subscription/);

      const deleted = await request(app).delete(`/v1/products/${unused}`).set(auth);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      const gone = await request(app).get(`/v1/products/${unused}`).set(auth);
      assert.equal(gone.status, 404);
      const still = await request(app).get(`/v1/products/${used}`).set(auth);
      assert.equal(still.status, 200);
    });

    void it('refuses a price change (QFPay fixes it) and an empty change with 400', async () => {
      const id = await createProduct(`Fixed ${Date.now()}`);
      const price = await request(app).patch(`/v1/products/${id}`).set(auth).send({ amount: 1 });
      assert.equal(price.status, 400);
      const empty = await request(app).patch(`/v1/products/${id}`).set(auth).send({});
      assert.equal(empty.status, 400);
    });
  });
});

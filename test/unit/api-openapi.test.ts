/**
 * The OpenAPI document: generated, OpenAPI 3.1, every route of the app in it (and every route in
 * it served by the app), the error shape and the API-key security scheme, references that
 * resolve, and component schemas that compile as JSON Schema 2020-12 and accept what the app
 * really answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import request from 'supertest';
import { buildApp } from '../../src/api/app';
import { routeSpecs, type OperationId, openApiDocument } from '../../src/api/openapi';
import { expressPath, mountedOperations } from '../../src/api/route';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import { SNAKE_CASE, nonSnakeKeys } from '../helpers/json-keys';

/** Every route the API serves (method, OpenAPI path). */
/** Every route, from its one definition (the document and Express both come from it). */
const ROUTES: Array<[string, string]> = routeSpecs().map((route) => [route.method, route.path]);

/** Documented routes served by another's Express route: QFPay's webhook is `/webhooks/{gateway}`. */
const SERVED_BY: Partial<Record<OperationId, OperationId>> = { qfpayWebhook: 'gatewayWebhook' };

const LIST_ROUTES = [
  '/v1/gateways',
  '/v1/customers',
  '/v1/customers/{customerId}/tokens',
  '/v1/products',
  '/v1/subscriptions',
  '/v1/subscriptions/{subscriptionId}/orders',
  '/v1/merchant-events',
  '/v1/events',
];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

type Json = Record<string, unknown>;
const doc = openApiDocument() as unknown as Json;
const pathsOf = (): Record<string, Record<string, Json>> => doc.paths as Record<string, Record<string, Json>>;

function operations(): Array<{ method: string; path: string; op: Json }> {
  return Object.entries(pathsOf()).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method, path, op })),
  );
}

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

function resolvePointer(pointer: string): unknown {
  assert.ok(pointer.startsWith('#/'), `only local references: ${pointer}`);
  return pointer
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], doc);
}

void describe('OpenAPI document', () => {
  void it('is OpenAPI 3.1 with info, paths and components', () => {
    assert.equal(doc.openapi, '3.1.0');
    const info = doc.info as Json;
    assert.equal(typeof info.title, 'string');
    assert.equal(typeof info.version, 'string');
    assert.equal(typeof doc.paths, 'object');
    const components = doc.components as Json;
    assert.equal(typeof components.schemas, 'object');
    for (const path of Object.keys(pathsOf())) assert.match(path, /^\//, `path ${path} starts with /`);
  });

  void it('documents every route the API serves, and nothing else', () => {
    const documented = operations()
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    assert.deepEqual(documented, ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    assert.equal(new Set(documented).size, documented.length, 'one operation per method and path');
    const ids = operations().map(({ op }) => String(op.operationId));
    assert.deepEqual(
      ids.sort(),
      routeSpecs()
        .map((route) => route.operationId)
        .sort(),
      'each operation carries its id',
    );
  });

  void it('mounts every documented route from its definition, once', () => {
    buildApp({
      config: loadConfig({ NODE_ENV: 'test', API_KEYS: 'k' }),
      temporal: {} as Client,
      qfpay: {} as QfpayClient,
      logger: createLogger('api-test', 'silent'),
    });
    const mounted = [...mountedOperations()].sort();
    const expected = routeSpecs()
      .map((route) => route.operationId as OperationId)
      .filter((id) => SERVED_BY[id] === undefined)
      .sort();
    assert.deepEqual(mounted, expected);
    assert.equal(
      expressPath('/v1/subscriptions/{subscriptionId}/dunning/hold'),
      '/subscriptions/:subscriptionId/dunning/hold',
    );
    assert.equal(expressPath('/webhooks/{gateway}'), '/webhooks/:gateway');
  });

  void it('serves every documented route (none answers "no route")', async () => {
    const config = loadConfig({ NODE_ENV: 'test', API_KEYS: 'k' });
    const failing = new Proxy(
      {},
      {
        get() {
          throw new Error('Temporal is not part of this test');
        },
      },
    ) as Client;
    const qfpay = new QfpayClient({
      baseUrl: 'http://qfpay.test',
      appCode: 'c',
      appKey: 'k',
      fetch: () => Promise.reject(new Error('offline')),
    });
    const app = buildApp({ config, temporal: failing, qfpay, logger: createLogger('api-test', 'silent') });
    for (const [method, path] of ROUTES) {
      const url = path.replace(/\{[^}]+\}/g, (param) =>
        param === '{customerId}'
          ? 'cust_1'
          : param === '{idempotencyKey}'
            ? 'k1'
            : param === '{gateway}'
              ? 'nosuchgateway'
              : 'sub_1',
      );
      const res = await request(app)[method as 'get' | 'post' | 'put'](url).set('Authorization', 'Bearer k');
      const body = res.body as { error?: { message?: string } };
      assert.doesNotMatch(body.error?.message ?? '', /^no route for/, `${method} ${path} → ${res.status}`);
    }
  });

  void it('gives every operation a success response, and every response a description', () => {
    for (const { method, path, op } of operations()) {
      const responses = op.responses as Record<string, Json>;
      assert.ok(
        Object.keys(responses).some((status) => /^2\d\d$/.test(status)),
        `${method} ${path} has a 2xx response`,
      );
      for (const [status, response] of Object.entries(responses)) {
        assert.equal(typeof response.description, 'string', `${method} ${path} ${status} has a description`);
      }
    }
  });

  void it('declares every path template parameter as a required path parameter', () => {
    for (const { method, path, op } of operations()) {
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = ((op.parameters ?? []) as Json[])
        .filter((p) => p.in === 'path')
        .map((p) => {
          assert.equal(p.required, true, `${method} ${path}: path parameter ${String(p.name)} is required`);
          return String(p.name);
        })
        .sort();
      assert.deepEqual(declared, inTemplate, `${method} ${path}`);
    }
  });

  void it('secures every /v1 route with the API key and documents its 401 with the error shape', () => {
    const schemes = (doc.components as Json).securitySchemes as Record<string, Json>;
    assert.deepEqual(schemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: schemes.bearerAuth?.description,
    });
    assert.equal(schemes.apiKeyHeader?.type, 'apiKey');
    assert.equal(schemes.apiKeyHeader?.in, 'header');
    assert.equal(schemes.apiKeyHeader?.name, 'X-API-Key');
    for (const { method, path, op } of operations()) {
      if (!path.startsWith('/v1/')) {
        assert.equal(op.security, undefined, `${method} ${path} is public`);
        continue;
      }
      assert.deepEqual(op.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }], `${method} ${path}`);
      const unauthorized = (op.responses as Record<string, Json>)['401'];
      assert.ok(unauthorized, `${method} ${path} documents 401`);
      assert.deepEqual(refsIn(unauthorized.content), ['#/components/schemas/ErrorResponse']);
    }
  });

  void it("documents the webhook's signature header, JSON body and text SUCCESS answer", () => {
    const op = pathsOf()['/webhooks/qfpay']?.post as Json;
    assert.ok(((op.parameters ?? []) as Json[]).some((p) => p.in === 'header' && p.name === 'X-QF-SIGN'));
    assert.ok(((op.requestBody as Json).content as Json)['application/json']);
    const ok = (op.responses as Record<string, Json>)['200'] as Json;
    assert.ok((ok.content as Json)['text/plain']);
    assert.ok((op.responses as Record<string, Json>)['401']);
  });

  void it('says when total_billing_cycles null is refused: a finite plan cannot become infinite (409)', () => {
    const schemas = (doc.components as Json).schemas as Record<string, Json>;
    const field = (schemas.ChangeTotalBillingCyclesRequest?.properties as Record<string, Json>)
      .total_billing_cycles as Json;
    assert.match(String(field.description), /null/);
    assert.match(String(field.description), /409/);
    assert.match(String(field.description), /finite/);
    const op = pathsOf()['/v1/subscriptions/{subscriptionId}/total-billing-cycles']?.post as Json;
    assert.match(String((op.responses as Record<string, Json>)['409']?.description), /finite plan/);
  });

  void it('names every JSON field and query parameter in snake_case, examples included', () => {
    const offending: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
      for (const [key, inner] of Object.entries(node as Json)) {
        if (key === 'properties' && inner !== null && typeof inner === 'object') {
          for (const name of Object.keys(inner)) if (!SNAKE_CASE.test(name)) offending.push(`${at}: ${name}`);
        }
        if (key === 'example' || key === 'examples') {
          for (const path of nonSnakeKeys(inner)) offending.push(`${at} example: ${path}`);
        } else walk(inner, `${at}/${key}`);
      }
    };
    walk(doc.components, '#/components');
    for (const { method, path, op } of operations()) {
      walk(op.requestBody, `${method} ${path} body`);
      walk(op.responses, `${method} ${path} responses`);
      for (const p of (op.parameters ?? []) as Json[]) {
        if (p.in === 'query' && !SNAKE_CASE.test(String(p.name)))
          offending.push(`${method} ${path} ?${String(p.name)}`);
      }
    }
    assert.deepEqual(offending, []);
  });

  void it('gives every list one shape, { data, next_cursor }, paged by limit and cursor', () => {
    const listing = operations()
      .filter(({ method, path, op }) => {
        if (method !== 'get') return false;
        const ok = (op.responses as Record<string, Json>)['200']?.content as Json | undefined;
        const schema = (ok?.['application/json'] as Json | undefined)?.schema as Json | undefined;
        const resolved = (schema?.$ref ? resolvePointer(String(schema.$ref)) : schema) as Json | undefined;
        const properties = (resolved?.properties ?? {}) as Record<string, Json>;
        if (!LIST_ROUTES.includes(path) && !('data' in properties)) return false;
        assert.deepEqual(Object.keys(properties).sort(), ['data', 'next_cursor'], `GET ${path}`);
        assert.deepEqual([...((resolved?.required ?? []) as string[])].sort(), ['data', 'next_cursor']);
        assert.equal(properties.data?.type, 'array');
        assert.deepEqual(properties.next_cursor?.type, ['string', 'null']);
        return true;
      })
      .map(({ path, op }) => {
        const query = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'query').map((p) => p.name);
        assert.ok(query.includes('limit') && query.includes('cursor'), `GET ${path} takes limit and cursor`);
        for (const old of ['page', 'page_size', 'page_token'])
          assert.ok(!query.includes(old), `GET ${path} ?${old}`);
        return path;
      });
    assert.deepEqual(listing.sort(), [...LIST_ROUTES].sort());
  });

  void it('resolves every $ref', () => {
    const refs = refsIn(doc);
    assert.ok(refs.length > 20);
    for (const ref of new Set(refs)) assert.ok(resolvePointer(ref) !== undefined, `${ref} resolves`);
  });

  void it('has component schemas that compile as JSON Schema 2020-12 and accept real answers', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'openapi.json', components: (doc as { components: unknown }).components });
    const schemas = Object.keys(((doc.components as Json).schemas as Json) ?? {});
    assert.ok(
      schemas.includes('ErrorResponse') &&
        schemas.includes('Subscription') &&
        schemas.includes('DunningPolicyOverride'),
    );
    for (const name of schemas) {
      assert.ok(ajv.getSchema(`openapi.json#/components/schemas/${name}`), `${name} compiles`);
    }
    const config = loadConfig({ NODE_ENV: 'test', API_KEYS: 'k' });
    const qfpay = new QfpayClient({
      baseUrl: 'http://qfpay.test',
      appCode: 'c',
      appKey: 'k',
      fetch: () => Promise.reject(new Error('offline')),
    });
    const app = buildApp({
      config,
      temporal: {} as Client,
      qfpay,
      logger: createLogger('api-test', 'silent'),
    });
    const validateError = ajv.getSchema('openapi.json#/components/schemas/ErrorResponse');
    for (const res of [
      await request(app).get('/v1/subscriptions/abc').set('Authorization', 'Bearer k'),
      await request(app).get('/v1/subscriptions'),
      await request(app).post('/webhooks/qfpay').send('{}'),
    ]) {
      assert.ok(validateError?.(res.body), JSON.stringify(validateError?.errors));
    }
    assert.equal(
      ajv.getSchema('openapi.json#/components/schemas/DunningPolicyOverride')?.({ final_action: 'cancel' }),
      true,
    );
    assert.equal(
      ajv.getSchema('openapi.json#/components/schemas/DunningPolicyOverride')?.({ finalAction: 'cancel' }),
      false,
    );
    assert.equal(
      ajv.getSchema('openapi.json#/components/schemas/DunningPolicyOverride')?.({ bogus: 1 }),
      false,
    );
  });
});

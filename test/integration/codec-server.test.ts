/**
 * The codec server speaks Temporal's remote codec protocol: protobuf-JSON payloads in and out of
 * `…/encode` and `…/decode`, a bearer token required when tokens are configured, CORS for the
 * Web UI's origin only, and 4xx (never 5xx) for bodies it cannot use.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import request from 'supertest';
import { buildCodecServer } from '../../src/codec-server/app';
import { createLogger } from '../../src/logger';
import { EncryptionCodec, parseEncryptionKeys } from '../../src/temporal/codec';

const TOKEN = 'codec-operator-token-31f9';
const UI = 'http://127.0.0.1:8233';
const codec = new EncryptionCodec(parseEncryptionKeys(`k1:${randomBytes(32).toString('base64')}`));
const logger = createLogger('codec-test', 'silent');
const app = buildCodecServer({ codec, tokens: [TOKEN], corsOrigins: [UI], logger });
const open = buildCodecServer({ codec, tokens: [], corsOrigins: [UI], logger });
const auth = { Authorization: `Bearer ${TOKEN}` };

const b64 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('base64');
async function sealedJson(value: unknown) {
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return {
    metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, b64(v)])),
    data: b64(sealed!.data),
  };
}

describe('codec server protocol', () => {
  it('decodes what the engine encrypted, at /decode and under a prefix (/{namespace}/decode)', async () => {
    const payload = await sealedJson({ email: 'ada@example.com' });
    for (const path of ['/decode', '/default/decode']) {
      const res = await request(app)
        .post(path)
        .set(auth)
        .set('X-Namespace', 'default')
        .send({ payloads: [payload] });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [decoded] = res.body.payloads as Array<{ metadata: Record<string, string>; data: string }>;
      assert.equal(Buffer.from(decoded!.metadata.encoding!, 'base64').toString(), 'json/plain');
      assert.deepEqual(JSON.parse(Buffer.from(decoded!.data, 'base64').toString()), {
        email: 'ada@example.com',
      });
    }
  });

  it('encodes, and what it encodes decodes again', async () => {
    const plain = { metadata: { encoding: b64(Buffer.from('json/plain')) }, data: b64(Buffer.from('"x"')) };
    const encoded = await request(app)
      .post('/encode')
      .set(auth)
      .send({ payloads: [plain] });
    assert.equal(encoded.status, 200);
    assert.equal(
      Buffer.from(encoded.body.payloads[0].metadata.encoding, 'base64').toString(),
      'binary/encrypted',
    );
    const decoded = await request(app).post('/decode').set(auth).send(encoded.body);
    assert.deepEqual(decoded.body, { payloads: [plain] });
  });

  it('refuses a missing or wrong token with 401 and decrypts nothing', async () => {
    const payload = await sealedJson('secret');
    for (const headers of [{}, { Authorization: 'Bearer nope' }, { Authorization: TOKEN }]) {
      const res = await request(app)
        .post('/decode')
        .set(headers)
        .send({ payloads: [payload] });
      assert.equal(res.status, 401);
      assert.doesNotMatch(JSON.stringify(res.body), /secret/);
    }
  });

  it('answers the Web UI origin with CORS headers (preflight included), and no other origin', async () => {
    const preflight = await request(app)
      .options('/decode')
      .set('Origin', UI)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-namespace,authorization');
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], UI);
    assert.match(String(preflight.headers['access-control-allow-headers']), /X-Namespace/i);
    assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/i);
    const other = await request(app)
      .options('/decode')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('answers bodies it cannot use with 4xx: not JSON, wrong shape, not base64, an unknown key', async () => {
    const cases: Array<[string | object, number]> = [
      ['{not json', 400],
      [{ payload: [] }, 400],
      [{ payloads: [{ data: '***' }] }, 400],
      [
        {
          payloads: [await sealedJson(1)].map((p) => ({
            ...p,
            metadata: { ...p.metadata, 'encryption-key-id': b64(Buffer.from('gone')) },
          })),
        },
        422,
      ],
    ];
    for (const [body, status] of cases) {
      const res = await request(app)
        .post('/decode')
        .set(auth)
        .set('content-type', 'application/json')
        .send(typeof body === 'string' ? body : JSON.stringify(body));
      assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 80)} → ${res.status}`);
    }
    assert.equal((await request(app).get('/decode').set(auth)).status, 404);
  });

  it('without tokens (development) lets callers in', async () => {
    const res = await request(open)
      .post('/decode')
      .send({ payloads: [await sealedJson('dev')] });
    assert.equal(res.status, 200);
  });
});

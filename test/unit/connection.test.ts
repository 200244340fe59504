/**
 * Connection options from configuration alone: a local server (no TLS), Temporal Cloud with an
 * API key (TLS and the namespace header), and mTLS (certificate files read from disk).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { clientConnectionOptions, workerConnectionOptions } from '../../src/temporal/connection';

const dir = mkdtempSync(join(tmpdir(), 'qfpay-connection-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pem(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `-----BEGIN ${body}-----\n${name}\n-----END ${body}-----\n`);
  return path;
}

const certPath = pem('client.pem', 'CERTIFICATE');
const keyPath = pem('client.key', 'PRIVATE KEY');
const caPath = pem('ca.pem', 'CERTIFICATE');

const builders = { client: clientConnectionOptions, worker: workerConnectionOptions } as const;

for (const [side, build] of Object.entries(builders)) {
  describe(`${side} connection options`, () => {
    it('a plain local server: the address, no TLS, no API key, no metadata', () => {
      const options = build(loadConfig({}));
      assert.equal(options.address, 'localhost:7233');
      assert.equal(options.tls, undefined);
      assert.equal(options.apiKey, undefined);
      assert.equal(options.metadata, undefined);
    });

    it('an API key (Temporal Cloud): TLS on, the key, and the temporal-namespace header', () => {
      const options = build(
        loadConfig({
          TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233',
          TEMPORAL_NAMESPACE: 'billing.a1b2c',
          TEMPORAL_API_KEY: 'secret-key',
        }),
      );
      assert.equal(options.address, 'us-east-1.aws.api.temporal.io:7233');
      assert.equal(options.apiKey, 'secret-key');
      assert.deepEqual(options.metadata, { 'temporal-namespace': 'billing.a1b2c' });
      assert.ok(options.tls, 'TLS is implied');
      assert.equal(typeof options.tls, 'object');
      const tls = options.tls as { clientCertPair?: unknown; serverRootCACertificate?: unknown };
      assert.equal(tls.clientCertPair, undefined, 'no client certificate');
      assert.equal(tls.serverRootCACertificate, undefined, 'the system roots');
    });

    it('mTLS: reads the certificate, key and CA files, and overrides the server name', () => {
      const options = build(
        loadConfig({
          TEMPORAL_ADDRESS: 'temporal.internal:7233',
          TEMPORAL_NAMESPACE: 'billing',
          TEMPORAL_TLS_CERT_PATH: certPath,
          TEMPORAL_TLS_KEY_PATH: keyPath,
          TEMPORAL_TLS_CA_PATH: caPath,
          TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal.internal',
        }),
      );
      const tls = options.tls as {
        clientCertPair?: { crt: Buffer; key: Buffer };
        serverRootCACertificate?: Buffer;
        serverNameOverride?: string;
      };
      assert.match(tls.clientCertPair?.crt.toString() ?? '', /BEGIN CERTIFICATE-----\nclient\.pem/);
      assert.match(tls.clientCertPair?.key.toString() ?? '', /BEGIN PRIVATE KEY-----\nclient\.key/);
      assert.match(tls.serverRootCACertificate?.toString() ?? '', /ca\.pem/);
      assert.equal(tls.serverNameOverride, 'frontend.temporal.internal');
      assert.equal(options.apiKey, undefined);
      assert.equal(options.metadata, undefined, 'mTLS needs no namespace header');
    });

    it('TEMPORAL_TLS=true alone: TLS with the system roots and no client certificate', () => {
      const options = build(
        loadConfig({ TEMPORAL_ADDRESS: 'temporal.example.com:443', TEMPORAL_TLS: 'true' }),
      );
      const tls = options.tls as { clientCertPair?: unknown } | undefined;
      assert.ok(tls);
      assert.equal(tls.clientCertPair, undefined);
    });

    it('a missing certificate file fails loudly, naming the file', () => {
      const config = loadConfig({
        TEMPORAL_TLS_CERT_PATH: join(dir, 'missing.pem'),
        TEMPORAL_TLS_KEY_PATH: keyPath,
      });
      assert.throws(() => build(config), /missing\.pem/);
    });
  });
}

describe('mTLS configuration', () => {
  it('refuses a certificate without its key', () => {
    assert.throws(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: certPath }), /set together/);
  });
});

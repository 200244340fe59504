/** The API profile's stages: a sample's stage is decided by the innermost frame that names one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stageOf, stageTimes, type CallFrame, type CpuProfile } from '../../bench/api-profile';

const f = (functionName: string, url = ''): CallFrame => ({ functionName, url });
const handler = f('handler', '/repo/src/api/routes/webhooks.ts');
const express = f('next', '/repo/node_modules/router/index.js');

describe('stageOf', () => {
  it('puts crypto under the signature check in the signature', () => {
    const stack = [
      f('digest', 'node:internal/crypto/hash'),
      f('verifyNotificationSignature', '/repo/src/gateways/qfpay/signing.ts'),
      handler,
      express,
    ];
    assert.equal(stageOf(stack), 'signature');
  });

  it('puts JSON.parse under the notification parser in parsing', () => {
    assert.equal(
      stageOf([f('parse'), f('parseNotificationBody', '/repo/src/gateways/qfpay/notifications.ts'), handler]),
      'parse and validate',
    );
  });

  it('puts protobuf under the Temporal client in the client, and grpc-js in gRPC', () => {
    assert.equal(
      stageOf([
        f('encode', '/repo/node_modules/protobufjs/src/writer.js'),
        f('signalWithStart', '/repo/node_modules/@temporalio/client/lib/workflow-client.js'),
        handler,
      ]),
      'Temporal client (payloads, codec, protobuf)',
    );
    assert.equal(
      stageOf([
        f('write', 'node:net'),
        f('sendMessage', '/repo/node_modules/@grpc/grpc-js/build/src/call.js'),
      ]),
      'gRPC',
    );
  });

  it('puts the raw body parser in the body read, not in Express', () => {
    assert.equal(stageOf([f('onData', '/repo/node_modules/raw-body/index.js'), express]), 'body read');
  });

  it('keeps Node sockets, GC and idle apart', () => {
    assert.equal(stageOf([f('onStreamRead', 'node:internal/stream_base_commons')]), 'Node HTTP and sockets');
    assert.equal(stageOf([f('(garbage collector)')]), 'garbage collection');
    assert.equal(stageOf([f('(idle)')]), 'idle');
    assert.equal(stageOf([f('(program)')]), 'other');
  });
});

describe('stageTimes', () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: f('(root)'), children: [2, 4, 6, 7] },
      { id: 2, callFrame: handler, children: [3] },
      {
        id: 3,
        callFrame: f('verifyNotificationSignature', '/repo/src/gateways/qfpay/signing.ts'),
        children: [5],
      },
      { id: 4, callFrame: f('(garbage collector)') },
      { id: 5, callFrame: f('digest', 'node:internal/crypto/hash') },
      { id: 6, callFrame: f('(idle)') },
      { id: 7, callFrame: f('compile', '/repo/node_modules/esbuild/lib/main.js') },
    ],
    // Start-up compiling; a signature check, GC, idle, a signature check; compiling again.
    samples: [7, 7, 5, 4, 6, 3, 7],
    timeDeltas: [0, 50, 50, 100, 200, 300, 400],
  };

  it('gives each sample the time until the next one, by stage, within the webhook traffic', () => {
    const t = stageTimes(profile);
    assert.equal(t.signature, 100, 'the first request sample, until the GC sample');
    assert.equal(t['garbage collection'], 200);
    assert.equal(t.idle, 300);
    assert.equal(t.other, 0, 'compiling before the first and after the last request sample is left out');
    assert.equal(
      Object.values(t).reduce((a, b) => a + b, 0),
      600,
    );
  });
});

/**
 * The Temporal Web UI shows the engine's subscriptions: a whole local stack (src/dev/stack.ts, on
 * free ports with a temporary DATA_DIR) takes a subscription to ACTIVE, and the system's headless
 * Chromium finds its workflow id on the UI's list filtered by the engine's search attributes.
 * Needs Debian's `chromium` package; without it this test fails and says what to install.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../../src/dev/free-ports';
import { StackClient, endpointsOf } from '../../src/dev/stack-client';
import { loadStackConfig } from '../../src/dev/stack-config';
import { startLocalStack, type RunningStack } from '../../src/dev/stack';
import {
  CHROMIUM_INSTALL_HINT,
  DEFAULT_SCREENSHOT,
  activeSubscriptionForUi,
  DECODED_INPUT_TEXT,
  activeSubscriptionQuery,
  checkDecodedPayload,
  checkWorkflowListed,
  findChromium,
} from '../../scripts/ui-check';

const dataDir = mkdtempSync(join(tmpdir(), 'qfpay-ui-check-'));
const output: string[] = [];
let stack: RunningStack | undefined;

before(async () => {
  const [apiPort, temporalPort, uiPort, emulatorPort, codecPort] = await freePorts(5);
  const env = {
    ...process.env,
    PORT: String(apiPort),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    EMULATOR_PORT: String(emulatorPort),
    CODEC_SERVER_PORT: String(codecPort),
    DATA_DIR: dataDir,
    API_KEYS: 'ui-check-key',
    ...(process.env.TEST_WORKFLOW_BUNDLE ? { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE } : {}),
  };
  try {
    stack = await startLocalStack({
      config: loadStackConfig(env),
      env,
      onOutput: (part, line) => output.push(`${part} | ${line}`),
      onProgress: (message) => output.push(`start | ${message}`),
    });
  } catch (err) {
    throw new Error(`the stack did not start:\n${output.slice(-60).join('\n')}`, { cause: err });
  }
});

after(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Temporal Web UI', () => {
  it('lists an ACTIVE subscription by its search attributes and shows its input decrypted (headless Chromium)', async () => {
    const chromiumPath = findChromium();
    assert.ok(chromiumPath, `Chromium is not installed: ${CHROMIUM_INSTALL_HINT}`);
    const client = new StackClient(endpointsOf(stack!.config));
    const { subscriptionId, workflowId } = await activeSubscriptionForUi(client);
    const result = await checkWorkflowListed({
      webUiUrl: client.endpoints.webUiUrl,
      namespace: client.endpoints.namespace,
      workflowId,
      query: activeSubscriptionQuery(subscriptionId),
      chromiumPath,
    });
    assert.equal(result.screenshotPath, DEFAULT_SCREENSHOT);
    assert.ok(existsSync(result.screenshotPath) && statSync(result.screenshotPath).size > 0);

    // The workflow's page shows its input decrypted: the browser asked the codec server.
    const decoded = await checkDecodedPayload({
      webUiUrl: client.endpoints.webUiUrl,
      namespace: client.endpoints.namespace,
      workflowId,
      expectedText: DECODED_INPUT_TEXT,
      chromiumPath,
    });
    assert.ok(existsSync(decoded.screenshotPath) && statSync(decoded.screenshotPath).size > 0);
  });
});

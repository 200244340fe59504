/**
 * `npm run ui:check`: proves the Temporal Web UI shows the engine's subscriptions. Against a
 * running `npm start`, it creates a subscription (or takes `--subscription sub_…`), waits until
 * visibility lists it as ACTIVE, then drives the system's headless Chromium (playwright-core, no
 * browser download) to the UI's workflow list filtered by the engine's search attributes, checks
 * that the subscription's workflow id is on the page, and saves a screenshot.
 *
 *   npm run ui:check [-- --subscription sub_… --screenshot test-results/ui-check.png]
 *   npm run ui:check -- --decoded [--screenshot docs/images/web-ui-decoded-payload.png]
 *
 * `--decoded` opens the subscription's workflow page instead and checks that the Web UI shows its
 * input decrypted through the codec server; `--timers` checks that its event history shows its
 * timers and activities by their summaries (and saves docs/images/web-ui-named-timers.png).
 *
 *   npm run ui:check -- --timers
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { StackClient, StackClientError, endpointsOf } from '../src/dev/stack-client';
import { StackConfigError, loadStackConfig } from '../src/dev/stack-config';
import { renamedAttributeEquals } from '../src/api/routes/subscriptions';
import { SEARCH_ATTRIBUTES } from '../src/workflows/definitions';

/** What to install when no Chromium is found (Debian's package name). */
export const CHROMIUM_INSTALL_HINT = 'apt-get install -y chromium';

export const DEFAULT_SCREENSHOT = resolve(__dirname, '..', 'test-results', 'ui-check.png');

/** Flags for a quiet, reproducible headless run (no updates, sync or QUIC in the background). */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `missing_chromium`: nothing to drive; `not_listed`: the UI never showed the workflow. */
export class UiCheckError extends Error {
  override readonly name = 'UiCheckError';
  constructor(
    readonly type: 'missing_chromium' | 'not_listed' | 'not_decoded' | 'not_named',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The system's Chromium: `CHROMIUM_PATH`, `/usr/bin/chromium`, or `chromium`/`chromium-browser` on PATH. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return executable(fromEnv) ? fromEnv : undefined;
  const candidates = [
    '/usr/bin/chromium',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .flatMap((dir) => [join(dir, 'chromium'), join(dir, 'chromium-browser')]),
  ];
  return candidates.find(executable);
}

export interface UiCheckOptions {
  webUiUrl: string;
  namespace: string;
  workflowId: string;
  /** A visibility query that should list the workflow. */
  query: string;
  screenshotPath?: string;
  chromiumPath?: string;
  timeoutMs?: number;
}

export interface UiCheckResult {
  url: string;
  screenshotPath: string;
  chromiumPath: string;
}

/**
 * The system's Chromium, headless (`launch` gives every run a fresh temporary profile), and where
 * the screenshot goes (its folder made).
 * @throws UiCheckError `missing_chromium` saying what to install
 */
async function launchChromium(
  options: { chromiumPath?: string; screenshotPath?: string },
  defaultScreenshot: string,
): Promise<{ browser: Browser; chromiumPath: string; screenshotPath: string }> {
  const chromiumPath = options.chromiumPath ?? findChromium();
  if (!chromiumPath) {
    throw new UiCheckError(
      'missing_chromium',
      `no Chromium found (looked at CHROMIUM_PATH, /usr/bin/chromium, PATH): install it with \`${CHROMIUM_INSTALL_HINT}\``,
    );
  }
  const screenshotPath = resolve(options.screenshotPath ?? defaultScreenshot);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  return { browser, chromiumPath, screenshotPath };
}

/**
 * Opens the Web UI's workflow list filtered by `query` and waits for `workflowId` to appear.
 * The screenshot is saved either way, so a failure can be looked at.
 * @throws UiCheckError `missing_chromium` or `not_listed`
 */
export async function checkWorkflowListed(options: UiCheckOptions): Promise<UiCheckResult> {
  const { browser, chromiumPath, screenshotPath } = await launchChromium(options, DEFAULT_SCREENSHOT);
  const url = `${options.webUiUrl}/namespaces/${encodeURIComponent(options.namespace)}/workflows?query=${encodeURIComponent(options.query)}`;
  const timeoutMs = options.timeoutMs ?? 45_000;
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const deadline = Date.now() + timeoutMs;
    let listed = false;
    // Visibility is eventually consistent: reload until the row shows or time runs out.
    while (!listed && Date.now() < deadline) {
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
      listed = await page
        .getByText(options.workflowId, { exact: true })
        .first()
        .waitFor({ state: 'visible', timeout: Math.min(15_000, Math.max(1_000, deadline - Date.now())) })
        .then(
          () => true,
          () => false,
        );
    }
    await page.screenshot({ path: screenshotPath, fullPage: true });
    if (!listed) {
      throw new UiCheckError(
        'not_listed',
        `the Web UI did not list ${options.workflowId} for ${options.query} within ${timeoutMs} ms (${url}; screenshot ${screenshotPath})`,
      );
    }
    return { url, screenshotPath, chromiumPath };
  } finally {
    await browser.close();
  }
}

export interface DecodedPayloadCheckOptions {
  webUiUrl: string;
  namespace: string;
  workflowId: string;
  /** Text that only a decrypted payload contains (e.g. a field name of the workflow's input). */
  expectedText: string;
  screenshotPath?: string;
  chromiumPath?: string;
  timeoutMs?: number;
}

/** Where `npm run ui:check -- --decoded` saves its screenshot by default. */
export const DEFAULT_DECODED_SCREENSHOT = resolve(__dirname, '..', 'test-results', 'ui-decoded-payload.png');

/**
 * Opens a workflow's page in the Web UI and waits until its input shows `expectedText`: the UI
 * got the payload decrypted from the codec server (without it, the input is ciphertext). The
 * screenshot is saved either way.
 * @throws UiCheckError `missing_chromium`, or `not_decoded` when the text never shows
 */
export async function checkDecodedPayload(options: DecodedPayloadCheckOptions): Promise<UiCheckResult> {
  return checkWorkflowPage(
    options,
    DEFAULT_DECODED_SCREENSHOT,
    'not_decoded',
    `the Web UI did not show "${options.expectedText}" in ${options.workflowId}'s payloads: is the codec server running and the UI pointed at it?`,
  );
}

/** Where `npm run ui:check -- --timers` saves its screenshot by default. */
export const DEFAULT_TIMERS_SCREENSHOT = resolve(
  __dirname,
  '..',
  'docs',
  'images',
  'web-ui-named-timers.png',
);

/**
 * The start of the summary of a fresh subscription's first query (src/workflows/summaries.ts). With
 * the reconciler (`RECONCILER=schedule`, the default) a fresh subscription has no timer to show;
 * with `RECONCILER=timer` its reconcile timer reads "reconcile: ask QFPay if billing time …".
 */
export const TIMER_SUMMARY_TEXT = 'sync with QFPay:';

/**
 * Opens a subscription's workflow page and waits until its event history shows a timer or an
 * activity by its summary (the SDK's user metadata), e.g. "sync with QFPay: …" or "reconcile: ask
 * QFPay if billing time … has brought no payment result". The screenshot is saved either way.
 * @throws UiCheckError `missing_chromium`, or `not_named` when the summary never shows
 */
export async function checkNamedTimers(
  options: Omit<DecodedPayloadCheckOptions, 'expectedText'> & { expectedText?: string },
): Promise<UiCheckResult> {
  const expectedText = options.expectedText ?? TIMER_SUMMARY_TEXT;
  return checkWorkflowPage(
    { ...options, expectedText },
    DEFAULT_TIMERS_SCREENSHOT,
    'not_named',
    `the Web UI did not show the timer "${expectedText}…" in ${options.workflowId}'s history`,
  );
}

async function checkWorkflowPage(
  options: DecodedPayloadCheckOptions,
  defaultScreenshot: string,
  failure: 'not_decoded' | 'not_named',
  problem: string,
): Promise<UiCheckResult> {
  const { browser, chromiumPath, screenshotPath } = await launchChromium(options, defaultScreenshot);
  const url = `${options.webUiUrl}/namespaces/${encodeURIComponent(options.namespace)}/workflows/${encodeURIComponent(options.workflowId)}`;
  const timeoutMs = options.timeoutMs ?? 45_000;
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
    const decoded = await page
      .getByText(options.expectedText)
      .first()
      .waitFor({ state: 'visible', timeout: timeoutMs })
      .then(
        () => true,
        () => false,
      );
    await page.screenshot({ path: screenshotPath, fullPage: false });
    if (!decoded) {
      throw new UiCheckError(
        failure,
        `${problem} (within ${timeoutMs} ms; ${url}; screenshot ${screenshotPath})`,
      );
    }
    return { url, screenshotPath, chromiumPath };
  } finally {
    await browser.close();
  }
}

/** A field of the subscription workflow's input, visible only once the payload is decrypted. */
export const DECODED_INPUT_TEXT = 'attemptOffsets';

/**
 * The visibility query the check uses for a subscription: by its id under either name, as a run
 * recorded before the gateway-neutral names (`--subscription`) carries the old one.
 */
export function activeSubscriptionQuery(subscriptionId: string): string {
  return `${SEARCH_ATTRIBUTES.state.name} = 'ACTIVE' AND ${renamedAttributeEquals('subscriptionId', subscriptionId)}`;
}

/**
 * Creates a subscription (unless one is given), waits until the engine mirrors it ACTIVE and the
 * engine's own list (the same visibility query) returns it.
 */
export async function activeSubscriptionForUi(
  client: StackClient,
  subscriptionId?: string,
): Promise<{ subscriptionId: string; workflowId: string }> {
  const id = subscriptionId ?? (await client.createSubscription({ name: 'UI Check' })).subscriptionId;
  const view = await client.waitForSubscription(id, `${id} ACTIVE`, (v) => v.state === 'ACTIVE');
  await client.waitFor(`${id} in the visibility list as ACTIVE`, async () => {
    const page = await client.apiExpect<{ data: Array<{ subscription_id: string }> }>(
      200,
      'GET',
      '/v1/subscriptions?state=ACTIVE&limit=100',
    );
    return page.data.some((i) => i.subscription_id === id) ? true : undefined;
  });
  return { subscriptionId: id, workflowId: view.workflow_id };
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  if (!findChromium()) {
    process.stderr.write(`ui:check needs Chromium. Install it with:\n  ${CHROMIUM_INSTALL_HINT}\n`);
    process.exit(1);
  }
  const config = loadStackConfig();
  const client = new StackClient(endpointsOf(config));
  await client.assertRunning({ emulator: argument('--subscription') === undefined });
  const { subscriptionId, workflowId } = await activeSubscriptionForUi(client, argument('--subscription'));
  if (process.argv.includes('--timers')) {
    const named = await checkNamedTimers({
      webUiUrl: client.endpoints.webUiUrl,
      namespace: client.endpoints.namespace,
      workflowId,
      screenshotPath: argument('--screenshot'),
    });
    process.stdout.write(
      `ok: the Web UI shows ${workflowId}'s timers and activities by name\n  page:       ${named.url}\n  screenshot: ${named.screenshotPath}\n`,
    );
    return;
  }
  if (process.argv.includes('--decoded')) {
    const decoded = await checkDecodedPayload({
      webUiUrl: client.endpoints.webUiUrl,
      namespace: client.endpoints.namespace,
      workflowId,
      expectedText: DECODED_INPUT_TEXT,
      screenshotPath: argument('--screenshot'),
    });
    process.stdout.write(
      `ok: the Web UI shows ${workflowId}'s input decrypted by the codec server\n  page:       ${decoded.url}\n  screenshot: ${decoded.screenshotPath}\n`,
    );
    return;
  }
  const query = activeSubscriptionQuery(subscriptionId);
  const result = await checkWorkflowListed({
    webUiUrl: client.endpoints.webUiUrl,
    namespace: client.endpoints.namespace,
    workflowId,
    query,
    screenshotPath: argument('--screenshot'),
  });
  process.stdout.write(
    `ok: the Web UI lists ${workflowId} for ${query}\n  page:       ${result.url}\n  screenshot: ${result.screenshotPath}\n`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const known =
      err instanceof UiCheckError || err instanceof StackClientError || err instanceof StackConfigError;
    process.stderr.write(
      `ui:check failed: ${known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
}

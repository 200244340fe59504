/**
 * Whether the merchant's webhook endpoint is turned off. An endpoint that answers `410 Gone` is
 * turned off (Standard Webhooks: the receiver says it is gone for good): no event is sent to it
 * until an operator turns it back on (`POST /v1/merchant-endpoint/enable`) or the engine is given
 * another URL.
 *
 * The switch lives in Temporal, so every worker and API replica sees the same: while the endpoint
 * is off, a workflow `merchant-endpoint-off:<digest of the URL>` runs (its summary says why);
 * turning it on signals that workflow, which ends. Reading the switch is one `describe` call.
 */
import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import {
  WORKFLOW_TYPES,
  enableMerchantEndpointSignal,
  type MerchantEndpointOff,
} from '../workflows/definitions';

/** The URL without credentials or query string, safe for logs, summaries and error messages. */
export function redactUrl(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.origin}${parsed.pathname}`;
}

/** The id of the workflow that runs while the endpoint at `url` is off (the URL itself stays out). */
export function merchantEndpointWorkflowId(url: string): string {
  const digest = createHash('sha256').update(url.trim()).digest('hex').slice(0, 16);
  return `merchant-endpoint-off:${digest}`;
}

/** The switch as an operator reads it. */
export type MerchantEndpointState = { enabled: true } | ({ enabled: false } & MerchantEndpointOff);

function notFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}

/** Reads and flips the switch of one endpoint. */
export class MerchantEndpointSwitch {
  readonly workflowId: string;
  readonly endpoint: string;

  constructor(
    private readonly client: Client,
    url: string,
    private readonly taskQueue: string,
  ) {
    this.workflowId = merchantEndpointWorkflowId(url);
    this.endpoint = redactUrl(url);
  }

  private async describe(): Promise<WorkflowExecutionDescription | undefined> {
    try {
      return await this.client.workflow.getHandle(this.workflowId).describe();
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  /** Whether events may be sent (a running switch workflow means off). */
  async state(): Promise<MerchantEndpointState> {
    const description = await this.describe();
    if (description?.status.name !== 'RUNNING') return { enabled: true };
    const off = description.memo as Partial<MerchantEndpointOff> | undefined;
    return {
      enabled: false,
      endpoint: off?.endpoint ?? this.endpoint,
      eventId: off?.eventId ?? '',
      status: off?.status ?? 410,
      at: off?.at ?? description.startTime.toISOString(),
    };
  }

  /** Turns the endpoint off (idempotent: an endpoint already off stays off as it was). */
  async turnOff(off: MerchantEndpointOff): Promise<void> {
    await this.client.workflow.start(WORKFLOW_TYPES.merchantEndpoint, {
      workflowId: this.workflowId,
      taskQueue: this.taskQueue,
      args: [off],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      // What the operator reads back (the memo is encrypted like every payload).
      memo: { ...off },
      staticSummary: `merchant endpoint ${off.endpoint} turned off: HTTP ${off.status} for ${off.eventId}`,
      staticDetails: [
        `The endpoint answered **HTTP ${off.status} Gone** to event \`${off.eventId}\` at ${off.at}.`,
        'No merchant event is sent to it while this workflow runs.',
        'Turn it back on with `POST /v1/merchant-endpoint/enable` (or give the engine another MERCHANT_EVENTS_URL).',
      ].join('\n\n'),
    });
  }

  /** Turns the endpoint back on and waits until the switch says so; true when it was off. */
  async turnOn(): Promise<boolean> {
    const description = await this.describe();
    if (description?.status.name !== 'RUNNING') return false;
    const handle = this.client.workflow.getHandle(this.workflowId, description.runId);
    try {
      await handle.signal(enableMerchantEndpointSignal);
      await handle.result();
    } catch (err) {
      if (notFound(err)) return false;
      throw err;
    }
    return true;
  }
}

/**
 * The merchant's metadata, as the API reads and changes it.
 *
 * - A subscription's is held by its own workflow (set at creation, changed with an update).
 * - A customer's or a product's is held by a small record workflow of its own
 *   (`metadata-record.ts`), started by its first change with Update-with-Start, and ended when the
 *   customer or product is deleted. It is read from the record's memo (a describe: no worker, no
 *   replay), which the record keeps equal to what it holds.
 *
 * Every value goes with its keyed digest (`ApiDigests.metadataDigest`), made here: the engine's
 * workflows never see the secret, and visibility lists by the digests.
 */
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import {
  METADATA_MEMO,
  WORKFLOW_TYPES,
  metadataRecordWorkflowId,
  setMetadataUpdate,
  type MetadataOwner,
} from '../workflows/definitions';
import type { HeldMetadata, Metadata, MetadataChange } from '../domain/metadata/metadata';
import type { ApiDigests } from './digests';
import { withinDeadline, type ApiContext } from './context';
import { ApiError, isWorkflowNotFound } from './errors';

/** Metadata given with a creation, with its digests. */
export function heldMetadata(digests: ApiDigests, values: Metadata): HeldMetadata {
  const held: HeldMetadata = {};
  for (const [key, value] of Object.entries(values))
    held[key] = { value, digest: digests.metadataDigest(key, value) };
  return held;
}

/** A merchant's change (null removes a key), with the digests of the values it sets. */
export function metadataChange(digests: ApiDigests, change: Record<string, string | null>): MetadataChange {
  const held: MetadataChange = {};
  for (const [key, value] of Object.entries(change))
    held[key] = value === null ? null : { value, digest: digests.metadataDigest(key, value) };
  return held;
}

/** A metadata memo's value as the API shows it ({} when it holds none, or something else). */
export function memoMetadata(memo: Record<string, unknown> | undefined): Metadata {
  const held = memo?.[METADATA_MEMO];
  if (typeof held !== 'object' || held === null || Array.isArray(held)) return {};
  return Object.fromEntries(
    Object.entries(held as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === 'string',
    ),
  );
}

/** Reads of a record's memo at once, at most (a page of a list reads one per item). */
const READS_AT_ONCE = 10;

/** Customers' and products' metadata records. */
export function metadataRecords(ctx: ApiContext) {
  const { temporal, timeouts, config } = ctx;

  /** The metadata of one customer or product ({} when it never had any). */
  async function read(owner: MetadataOwner, id: string): Promise<Metadata> {
    try {
      const described = await withinDeadline(temporal, timeouts.temporalMs, () =>
        temporal.workflow.getHandle(metadataRecordWorkflowId(owner, id)).describe(),
      );
      // A record ended by a delete holds nothing any more.
      return described.status.name === 'RUNNING' ? memoMetadata(described.memo) : {};
    } catch (err) {
      if (isWorkflowNotFound(err)) return {};
      throw err;
    }
  }

  /** The metadata of each of a page's customers or products, by id. */
  async function readAll(owner: MetadataOwner, ids: readonly string[]): Promise<Map<string, Metadata>> {
    const found = new Map<string, Metadata>();
    for (let i = 0; i < ids.length; i += READS_AT_ONCE) {
      const batch = ids.slice(i, i + READS_AT_ONCE);
      const values = await Promise.all(batch.map((id) => read(owner, id)));
      batch.forEach((id, j) => found.set(id, values[j]!));
    }
    return found;
  }

  /**
   * Makes a change, starting the record when it has none yet; answers the metadata after it.
   * @throws ApiError 400 when the change would leave more keys than the limit
   */
  async function change(
    owner: MetadataOwner,
    id: string,
    values: Record<string, string | null>,
  ): Promise<Metadata> {
    const startWorkflowOperation = new WithStartWorkflowOperation(WORKFLOW_TYPES.metadataRecord, {
      workflowId: metadataRecordWorkflowId(owner, id),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [{ owner, id }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A record ended by a delete may start again only for an id QFPay gave anew (the API checked).
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    try {
      return await withinDeadline(temporal, timeouts.updateMs, () =>
        temporal.workflow.executeUpdateWithStart(setMetadataUpdate, {
          args: [metadataChange(ctx.digests, values)],
          startWorkflowOperation,
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError)
        throw ApiError.validation('invalid body', [
          { path: 'metadata', message: err.cause?.message ?? err.message },
        ]);
      throw err;
    }
  }

  /** Ends the record of a deleted customer or product (none: nothing to do). */
  async function forget(owner: MetadataOwner, id: string): Promise<void> {
    try {
      await withinDeadline(temporal, timeouts.temporalMs, () =>
        temporal.workflow.getHandle(metadataRecordWorkflowId(owner, id)).terminate(`${owner} deleted`),
      );
    } catch (err) {
      if (!isWorkflowNotFound(err)) throw err;
    }
  }

  return { read, readAll, change, forget };
}

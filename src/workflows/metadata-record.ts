/**
 * Holds a customer's or a product's metadata. QFPay keeps neither, and Temporal is the engine's
 * only store: this small entity workflow (one per customer or product, started by the first change)
 * holds the values with their digests, answers the change as an update, and keeps its memo (what the
 * API reads, encrypted like every payload) equal to them. The API ends it when the customer or
 * product is deleted.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { metadataQuery, setMetadataUpdate, type MetadataRecordInput } from './definitions';
import {
  applyMetadataChange,
  metadataChangeProblem,
  metadataValues,
  type HeldMetadata,
} from '../domain/metadata/metadata';
import { updateMetadataMemo } from './visibility';

/** History length at which a record continues as new (each change is a handful of events). */
const MAX_RECORD_HISTORY = 2_000;

export async function metadataRecordWorkflow(input: MetadataRecordInput): Promise<void> {
  let held: HeldMetadata = input.held ?? {};
  updateMetadataMemo(held);
  setHandler(
    setMetadataUpdate,
    (change) => {
      held = applyMetadataChange(held, change);
      updateMetadataMemo(held);
      return metadataValues(held);
    },
    {
      validator: (change) => {
        const problem = metadataChangeProblem(held, change);
        if (problem !== undefined) throw new Error(problem);
      },
    },
  );
  setHandler(metadataQuery, () => metadataValues(held));
  await condition(
    () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_RECORD_HISTORY,
  );
  await condition(allHandlersFinished);
  await continueAsNew<typeof metadataRecordWorkflow>({ ...input, held });
}

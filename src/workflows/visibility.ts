/**
 * What a subscription's workflow shows: the query's view, its search attributes (no personal
 * data) and the one-line summary the Temporal Web UI displays.
 */
import {
  patched,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair, TypedSearchAttributes } from '@temporalio/common';
import {
  LEGACY_SEARCH_ATTRIBUTES,
  METADATA_MEMO,
  SEARCH_ATTRIBUTES,
  type SubscriptionView,
} from './definitions';
import {
  metadataDigests,
  metadataValues,
  sameMetadata,
  type HeldMetadata,
  type Metadata,
} from '../domain/metadata/metadata';
import { gatewayOf, type EngineState } from '../domain/engine-state';
import { isTerminal } from '../domain/lifecycle/lifecycle';
import { reconcileDueAt } from '../domain/sync/sync';
import { scheduledCancelView } from '../domain/cancel/scheduled-cancel';
import { lastDunningActivity } from '../domain/episode/dunning-report';
import { testClockOf } from '../domain/clock/test-clock';

function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The query's answer. */
export function describeSubscription(state: EngineState, workflowId: string): SubscriptionView {
  return {
    subscriptionId: state.subscriptionId,
    workflowId,
    gateway: gatewayOf(state).name,
    snapshot: state.snapshot,
    dunning: { policy: state.policy, episode: state.episode, history: state.episodeHistory },
    billingPausedByMerchant: state.billingPause !== null,
    billingPause: state.billingPause,
    origin: state.origin,
    continuedAsNew: state.continuedAsNew,
    lastSyncAt: state.lastSyncAt,
    pendingCharge: state.pendingCharge,
    scheduledCancel:
      state.scheduledCancel && !isTerminal(state.snapshot.state)
        ? scheduledCancelView(state, state.scheduledCancel)
        : null,
    eventsWaiting: state.outbox.length,
    metadata: metadataValues(state.metadata),
    ...(state.options.testClock === undefined
      ? {}
      : { testClock: { id: state.options.testClock, now: state.clockNow ?? null } }),
  };
}

/**
 * Marks the runs that write the gateway-neutral names (`SubscriptionId`, `CustomerId`) and
 * `Gateway`, in the subscription's and the merchant event delivery's workflow.
 *
 * A run recorded before replays with the QFPay-only names it wrote. Its replay would not fail
 * without the patch (an upsert is matched by its kind, not its attributes), but the run's own view
 * of its attributes would then hold names the server never got, and as only changes are upserted
 * it would never write them. Once such a run executes new code `patched` is true for it: from that
 * workflow task on it writes the new names and drops the old ones.
 */
export const GATEWAY_NEUTRAL_NAMES_PATCH = 'gateway-neutral-search-attributes';

/**
 * The search attributes as they should be now: under the gateway-neutral names (`neutral`), or
 * under the QFPay-only names a run recorded before the rename replays with.
 */
function wantedAttributes(
  state: EngineState,
  neutral: boolean,
  reports: boolean,
): SearchAttributeUpdatePair[] {
  const { snapshot, episode } = state;
  const names = neutral ? SEARCH_ATTRIBUTES : { ...SEARCH_ATTRIBUTES, ...LEGACY_SEARCH_ATTRIBUTES };
  const nextAttempt = episode?.stage === 'retrying' ? episode.schedule[0] : undefined;
  const wanted: SearchAttributeUpdatePair[] = [
    { key: names.subscriptionId, value: state.subscriptionId },
    { key: SEARCH_ATTRIBUTES.state, value: snapshot.state },
    {
      key: SEARCH_ATTRIBUTES.dunningStage,
      value: state.billingPause ? 'paused' : (episode?.stage ?? 'none'),
    },
    { key: SEARCH_ATTRIBUTES.dunningAttempts, value: episode?.attempts.length ?? 0 },
    {
      key: SEARCH_ATTRIBUTES.nextBillingTime,
      value:
        snapshot.nextBillingTime !== null && !isTerminal(snapshot.state)
          ? new Date(snapshot.nextBillingTime)
          : null,
    },
    {
      key: SEARCH_ATTRIBUTES.dunningNextAttemptAt,
      value: nextAttempt === undefined ? null : new Date(nextAttempt),
    },
  ];
  // Only runs with the reconciler write it: the runs before keep the upserts they recorded.
  if (state.options.reconciler === 'schedule') {
    const at = reconcileDueAt(state);
    wanted.push({ key: SEARCH_ATTRIBUTES.reconcileAt, value: at === null ? null : new Date(at) });
  }
  // Only runs that record it write it (an upsert the history does not hold would not replay).
  if (reports) {
    const at = lastDunningActivity(episode ? [...state.episodeHistory, episode] : state.episodeHistory);
    wanted.push({ key: SEARCH_ATTRIBUTES.dunningActivityAt, value: at });
  }
  // Only a run that holds metadata writes its digests (runs from before never upsert them).
  if (state.metadata !== undefined) {
    const digests = metadataDigests(state.metadata);
    wanted.push({ key: SEARCH_ATTRIBUTES.metadataDigests, value: digests.length > 0 ? digests : null });
  }
  if (neutral) {
    wanted.push({ key: SEARCH_ATTRIBUTES.gateway, value: gatewayOf(state).name });
    // A run that switched mid-life, or continued from one recorded before, drops the old names:
    // none of its values stays behind, stale, under a name the queries still ask for.
    for (const key of Object.values(LEGACY_SEARCH_ATTRIBUTES)) wanted.push({ key, value: null });
  }
  if (snapshot.customerId) wanted.push({ key: names.customerId, value: snapshot.customerId });
  return wanted;
}

/**
 * Marks the runs that write `TestClock` themselves. A subscription's workflow on a clock starts
 * with it (the creation's signal-with-start sets it), and then writes nothing: no marker, no
 * upsert. One that a notification from the clock's world started before the creation's handover
 * learns its clock from the handover, and writes it once, under this patch. Clocked runs recorded
 * before it replay as they ran, without it.
 */
export const TEST_CLOCK_ATTRIBUTE_PATCH = 'test-clock-search-attribute';

/** `TestClock`, when the run is on a clock, does not have it yet, and may write it. */
function missingTestClock(
  state: EngineState,
  current: TypedSearchAttributes,
): SearchAttributeUpdatePair | undefined {
  const testClock = testClockOf(state);
  if (testClock === undefined || current.get(SEARCH_ATTRIBUTES.testClock) === testClock) return undefined;
  return patched(TEST_CLOCK_ATTRIBUTE_PATCH)
    ? { key: SEARCH_ATTRIBUTES.testClock, value: testClock }
    : undefined;
}

/**
 * Upserts the search attributes that changed (only those), and refreshes the summary.
 * @param neutral the run writes the gateway-neutral names ({@link GATEWAY_NEUTRAL_NAMES_PATCH})
 * @param reports the run writes `DunningActivityAt`, what the dunning report lists by
 */
export function updateSearchAttributes(state: EngineState, neutral: boolean, reports: boolean): void {
  const current = workflowInfo().typedSearchAttributes;
  const changed = wantedAttributes(state, neutral, reports).filter((pair) => {
    const have = current.get(pair.key as never) as unknown;
    const want = pair.value as unknown;
    if (want === null) return have !== undefined;
    if (want instanceof Date) return !(have instanceof Date) || have.getTime() !== want.getTime();
    if (Array.isArray(want))
      return !Array.isArray(have) || have.length !== want.length || want.some((w, i) => have[i] !== w);
    return have !== want;
  });
  const testClock = missingTestClock(state, current);
  if (testClock) changed.push(testClock);
  if (changed.length > 0) upsertSearchAttributes(changed);
  setCurrentDetails(summary(state));
}

/** The metadata the memo holds (what a list of subscriptions shows), or undefined. */
function memoMetadata(): Metadata | undefined {
  const held = workflowInfo().memo?.[METADATA_MEMO];
  return typeof held === 'object' && held !== null ? (held as Metadata) : undefined;
}

/**
 * Writes an entity's metadata to its memo when it differs from what the memo holds: the list reads
 * it there (the memo is encrypted like every payload). Only an entity that holds metadata writes it.
 */
export function updateMetadataMemo(held: HeldMetadata | undefined): void {
  if (held === undefined) return;
  const values = metadataValues(held);
  const have = memoMetadata();
  if (have !== undefined && sameMetadata(have, values)) return;
  upsertMemo({ [METADATA_MEMO]: values });
}

function summary(state: EngineState): string {
  const { snapshot, episode } = state;
  const cycles =
    snapshot.totalBillingCycles === null
      ? `${snapshot.completedCycles} cycles paid`
      : `${snapshot.completedCycles}/${snapshot.totalBillingCycles} cycles`;
  const dunning = episode
    ? ` · dunning ${episode.stage} (${episode.attempts.length} attempts, ${episode.schedule.length} planned, order ${episode.sequenceNo})`
    : '';
  const testClock = testClockOf(state);
  return (
    `**${snapshot.state}** · ${cycles} · next billing ${iso(snapshot.nextBillingTime)}${dunning}` +
    (state.billingPause ? ` · billing paused (${state.billingPause.by.replace('_', ' ')})` : '') +
    // On a test clock every time above is the clock's, not the real one: said so.
    (testClock === undefined ? '' : ` · test clock \`${testClock}\`: clock times, now ${iso(state.clockNow)}`)
  );
}

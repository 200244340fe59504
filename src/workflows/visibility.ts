/**
 * What a subscription's workflow shows: the query's view, its search attributes (no personal
 * data) and the one-line summary the Temporal Web UI displays.
 */
import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { SEARCH_ATTRIBUTES, type SubscriptionView } from './definitions';
import { gatewayOf, type EngineState } from '../domain/engine-state';
import { isTerminal } from '../domain/lifecycle/lifecycle';

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
    eventsWaiting: state.outbox.length,
  };
}

/** The search attributes as they should be now. */
function wantedAttributes(state: EngineState): SearchAttributeUpdatePair[] {
  const { snapshot, episode } = state;
  const nextAttempt = episode?.stage === 'retrying' ? episode.schedule[0] : undefined;
  const wanted: SearchAttributeUpdatePair[] = [
    { key: SEARCH_ATTRIBUTES.subscriptionId, value: state.subscriptionId },
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
  if (snapshot.customerId) wanted.push({ key: SEARCH_ATTRIBUTES.customerId, value: snapshot.customerId });
  return wanted;
}

/** Upserts the search attributes that changed (only those), and refreshes the summary. */
export function updateSearchAttributes(state: EngineState): void {
  const current = workflowInfo().typedSearchAttributes;
  const changed = wantedAttributes(state).filter((pair) => {
    const have = current.get(pair.key as never) as unknown;
    const want = pair.value as unknown;
    if (want === null) return have !== undefined;
    if (want instanceof Date) return !(have instanceof Date) || have.getTime() !== want.getTime();
    return have !== want;
  });
  if (changed.length > 0) upsertSearchAttributes(changed);
  setCurrentDetails(summary(state));
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
  return (
    `**${snapshot.state}** · ${cycles} · next billing ${iso(snapshot.nextBillingTime)}${dunning}` +
    (state.billingPause ? ` · billing paused (${state.billingPause.by.replace('_', ' ')})` : '')
  );
}

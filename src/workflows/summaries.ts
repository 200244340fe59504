/**
 * What the Temporal Web UI shows on each timer and activity of a subscription's history (the
 * SDK's user metadata): the domain's words, e.g. "dunning attempt 2 of 3, order #3, deadline
 * 2027-02-26 21:00Z" or "reconcile: billing time 2027-02-27 03:12Z passed with no payment result".
 * Pure; ids, order numbers and times only (never personal data).
 */
import { periodEnd, scheduledCancelDueAt } from '../domain/cancel/scheduled-cancel';
import type { Action } from '../domain/actions';
import { reconcileTime } from '../domain/sync/sync';
import { gatewayLabel } from '../domain/gateway-profile';
import { gatewayOf, type EngineState } from '../domain/engine-state';

/** `2027-02-27 03:12Z`: a time as an operator reads it (UTC, to the minute). */
export function shortTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** "attempt 2 of 3": the episode's attempts made plus those still planned. */
function attemptOf(s: EngineState, attempt: number): string {
  const episode = s.episode;
  const planned = episode ? episode.attempts.length + episode.schedule.length : attempt;
  return `attempt ${attempt} of ${Math.max(planned, attempt)}`;
}

const SYNC_REASONS: Record<Extract<Action, { kind: 'sync' }>['reason'], string> = {
  wanted: 'read the subscription and its new orders',
  final: 'last look before the workflow ends',
  before_final_action: 'is the order still unpaid before the final action?',
  intent: 'the merchant asked to sync',
  charge_now: 'look before the merchant’s charge',
};

/** The summary of the activity that performs `action` (state as it was when decided). */
export function activitySummary(s: EngineState, action: Action): string | undefined {
  const gateway = gatewayLabel(gatewayOf(s));
  switch (action.kind) {
    case 'sync': {
      const billing = s.snapshot.nextBillingTime;
      if (action.reason === 'wanted' && billing !== null && s.reconcile.billingTime === billing) {
        return `reconcile: billing time ${shortTime(billing)} passed with no payment result`;
      }
      return `sync with ${gateway}: ${SYNC_REASONS[action.reason]}`;
    }
    case 'charge':
      return action.attempt > 0
        ? `dunning ${attemptOf(s, action.attempt)}, order #${action.sequenceNo}, deadline ${shortTime(action.deadline)}`
        : `charge order #${action.sequenceNo} (${action.trigger}), deadline ${shortTime(action.deadline)}`;
    case 'confirm':
      return `did ${gateway} take the charge of order #${action.pending.sequenceNo}? (check ${action.pending.checks + 1})`;
    case 'cancel':
      if (action.cause === 'merchant') return `cancel at ${gateway}: the merchant asked`;
      if (action.cause === 'scheduled') return `cancel at ${gateway}: scheduled for the period's end`;
      return `cancel at ${gateway}: dunning exhausted for order ${action.orderId} (final action)`;
    case 'change_token':
      return `change the payment token at ${gateway}`;
    case 'change_cycles':
      return `set total billing cycles to ${action.totalBillingCycles ?? 'unlimited'} at ${gateway}`;
    case 'change_price':
      return `set the subscription's price to ${action.amount} ${action.currency} at ${gateway}`;
    case 'remind':
      return action.reminder === 'payment_method_expiring'
        ? `reminder: does the card outlast order #${action.cycle}'s billing ${shortTime(action.billingTime)}?`
        : `reminder ${action.reminder.replace(/_/g, ' ')}: order #${action.cycle} at ${shortTime(action.billingTime)}`;
    default:
      return undefined;
  }
}

/** Why the workflow wakes at `at`: the summary of its timer. */
export function timerSummary(s: EngineState, at: number): string {
  const reasons: string[] = [];
  const gateway = gatewayLabel(gatewayOf(s));
  const pending = s.pendingCharge;
  if (pending && (pending.nextCheckAt === at || pending.confirmUntil === at)) {
    reasons.push(
      pending.confirmUntil === at
        ? `give up waiting for the result of order #${pending.sequenceNo}'s charge`
        : `check the charge of order #${pending.sequenceNo} again`,
    );
  }
  const episode = s.episode;
  if (episode) {
    if (episode.schedule[0] === at) {
      reasons.push(
        `dunning ${attemptOf(s, episode.attempts.length + 1)}, order #${episode.sequenceNo}, deadline ${shortTime(episode.deadline)}`,
      );
    }
    if (episode.nextBillingTime === at) {
      reasons.push(
        `dunning window closes: next billing time ${shortTime(at)} for order #${episode.sequenceNo}`,
      );
    }
    if (episode.finalAction?.retryAt === at)
      reasons.push(`retry the final action (${episode.finalAction.action})`);
  }
  if (s.syncRetryAt === at) reasons.push(`retry the sync with ${gateway}`);
  if (s.flushRetryAt === at && s.outbox.length > 0)
    reasons.push(
      `start the delivery of ${s.outbox.length} merchant event${s.outbox.length === 1 ? '' : 's'} again`,
    );
  if (s.scheduledCancel && scheduledCancelDueAt(s) === at)
    reasons.push(
      `cancel at ${gateway} before the period ends at ${shortTime(periodEnd(s, s.scheduledCancel))}`,
    );
  const billing = s.snapshot.nextBillingTime;
  if (billing !== null && reconcileTime(s, billing) === at) {
    reasons.push(
      `reconcile: ask ${gateway} if billing time ${shortTime(billing)} has brought no payment result`,
    );
  }
  return reasons.length > 0 ? reasons.join('; ') : `wake at ${shortTime(at)}`;
}

/** What the start of a subscription's workflow shows in the Web UI (no personal data). */
export interface SubscriptionStartFacts {
  subscriptionId: string;
  origin: 'created' | 'adopted';
  /** How people write the subscription's gateway ("QFPay"): an adopted one was first seen in its notification. */
  gateway?: string;
  productIds?: readonly string[];
  totalBillingCycles?: number | null;
  startTime?: number;
  /** The product's price, when the creation made the product (else it lives at QFPay). */
  price?: { amount: number; currency: string; interval?: string; intervalCount?: number };
}

/** The static summary and details of a subscription's workflow, set when it starts. */
export function subscriptionStartMetadata(facts: SubscriptionStartFacts): {
  staticSummary: string;
  staticDetails: string;
} {
  const { price } = facts;
  const product = facts.productIds?.length ? facts.productIds.join(', ') : undefined;
  const amount = price
    ? `${price.amount} ${price.currency} (minor units)${price.interval ? ` every ${price.intervalCount ?? 1} ${price.interval}` : ''}`
    : undefined;
  const cycles =
    facts.totalBillingCycles === undefined
      ? undefined
      : facts.totalBillingCycles === null
        ? 'until cancelled'
        : `${facts.totalBillingCycles} cycles`;
  const staticSummary = [`subscription ${facts.subscriptionId}`, product, amount, cycles]
    .filter((part) => part !== undefined)
    .join(' · ');
  const rows: Array<[string, string | undefined]> = [
    ['Subscription', `\`${facts.subscriptionId}\``],
    ['Product', product === undefined ? undefined : `\`${product}\``],
    ['Amount', amount ?? (product ? 'the product’s price at QFPay' : undefined)],
    ['Billing cycles', cycles],
    ['Starts', facts.startTime === undefined ? undefined : shortTime(facts.startTime)],
    [
      'Origin',
      facts.origin === 'created'
        ? 'created through the engine’s API'
        : `adopted: first seen in a ${facts.gateway ?? 'gateway'} notification`,
    ],
  ];
  const staticDetails = rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([name, value]) => `**${name}**: ${value}`)
    .join('\n\n');
  return { staticSummary, staticDetails };
}

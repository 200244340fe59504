/**
 * Reminders: merchant events that announce a billing ahead of it, each on the subscription's own
 * durable timer, N before the next billing time (N per kind, from the merchant's configuration in
 * the workflow's options; a kind not configured is off):
 *
 * - `subscription.renewal_upcoming` before each billing of an ACTIVE or PAST_DUE subscription,
 *   with what it will charge (Stripe's `invoice.upcoming`);
 * - `subscription.trial_will_end` before a TRIAL's first billing (Stripe: 3 days);
 * - `payment_method.expiring` before a billing at which the card token will have expired (QFPay's
 *   `token_expiry_date`, seed 001), so the merchant can ask for a new card before the charge fails.
 *
 * Each is considered once per billing cycle (its order's sequence number, kept in the state, so a
 * restart or continue-as-new never sends one twice), and is skipped when it would arrive at or
 * after the billing it announces, while billing is paused, or when a cancel is scheduled before it.
 * What a reminder says (the amount, the token's expiry) is asked for when it is due, by one
 * activity, so it is true after a price or plan change.
 */
import type { EngineState } from '../engine-state';
import { recordEvents } from '../engine-state';
import type { Outcome } from '../actions';
import { isTerminal } from '../lifecycle/lifecycle';
import type { LifecycleState } from '../lifecycle/lifecycle';
import type { OutgoingEvent } from '../events/outbox';

import { REMINDER_KINDS, type ReminderKind } from './reminder-kinds';

export { REMINDER_KINDS, type ReminderKind, type ReminderLeads } from './reminder-kinds';

/** The states in which a kind announces the next billing. */
const ANNOUNCED_IN: Record<ReminderKind, readonly LifecycleState[]> = {
  renewal_upcoming: ['ACTIVE', 'PAST_DUE'],
  trial_will_end: ['TRIAL'],
  payment_method_expiring: ['TRIAL', 'ACTIVE', 'PAST_DUE'],
};

/** A reminder the state calls for: its kind, the cycle and billing time it announces, and when it is due. */
export interface PlannedReminder {
  reminder: ReminderKind;
  /** The order (billing cycle) the billing time bills. */
  cycle: number;
  billingTime: number;
  /** When it is due: the billing time less the kind's lead. */
  at: number;
}

/** What the activity found for a reminder: what the billing will charge, or the token's expiry. */
export interface ReminderFacts {
  amount?: number | null;
  currency?: string | null;
  /** The token's expiry (epoch ms), or null when the engine has none for it. */
  tokenExpiresAt?: number | null;
}

/** The reminders still to consider for the next billing, in kind order (none when off). */
export function plannedReminders(s: EngineState): PlannedReminder[] {
  const leads = s.options.reminders;
  if (!leads || !s.options.merchantEvents) return [];
  const { snapshot } = s;
  const billingTime = snapshot.nextBillingTime;
  if (billingTime === null || isTerminal(snapshot.state) || s.billingPause || s.scheduledCancel) return [];
  const cycle = snapshot.lastSequenceNo + 1;
  const planned: PlannedReminder[] = [];
  for (const reminder of REMINDER_KINDS) {
    const lead = leads[reminder];
    if (lead === undefined || !ANNOUNCED_IN[reminder].includes(snapshot.state)) continue;
    if ((s.reminded?.[reminder] ?? 0) >= cycle) continue;
    planned.push({ reminder, cycle, billingTime, at: billingTime - lead });
  }
  return planned;
}

/** The reminder to send now: due, and its billing not come yet. */
export function dueReminder(s: EngineState, now: number): PlannedReminder | undefined {
  return plannedReminders(s).find((r) => r.at <= now && now < r.billingTime);
}

/** When the next reminder is due (for the workflow's timer), or null. */
export function reminderWakeTime(s: EngineState, now: number): number | null {
  const times = plannedReminders(s)
    .filter((r) => r.at > now && r.at < r.billingTime)
    .map((r) => r.at);
  return times.length === 0 ? null : Math.min(...times);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The event a reminder sends with what its activity found, or none. */
export function reminderEvent(
  s: EngineState,
  r: Pick<PlannedReminder, 'reminder' | 'cycle' | 'billingTime'>,
  facts: ReminderFacts | undefined,
): OutgoingEvent | undefined {
  const base = `evt.${s.subscriptionId}`;
  const amount = facts?.amount ?? null;
  const currency = facts?.currency ?? null;
  switch (r.reminder) {
    case 'renewal_upcoming':
      return {
        id: `${base}.renewal_upcoming.${r.cycle}`,
        type: 'subscription.renewal_upcoming',
        data: { billing_time: iso(r.billingTime), sequence_no: r.cycle, amount, currency },
      } as OutgoingEvent;
    case 'trial_will_end':
      return {
        id: `${base}.trial_will_end.${r.cycle}`,
        type: 'subscription.trial_will_end',
        data: { trial_end: iso(r.billingTime), amount, currency },
      } as OutgoingEvent;
    case 'payment_method_expiring': {
      const tokenId = s.snapshot.tokenId;
      const expiresAt = facts?.tokenExpiresAt;
      // Only a token known to expire before the billing fails it.
      if (!tokenId || expiresAt === undefined || expiresAt === null || expiresAt >= r.billingTime)
        return undefined;
      return {
        id: `${base}.payment_method_expiring.${r.cycle}`,
        type: 'payment_method.expiring',
        data: {
          token_id: tokenId,
          expires_at: iso(expiresAt),
          billing_time: iso(r.billingTime),
          sequence_no: r.cycle,
        },
      } as OutgoingEvent;
    }
  }
}

/**
 * After a reminder's activity: the cycle counts as reminded of this kind, and the event is
 * recorded unless the billing has come meanwhile. A failed activity still sends a renewal or a
 * trial's end (without the amount); an expiry it could not read sends nothing.
 */
export function afterReminder(
  s: EngineState,
  r: Pick<PlannedReminder, 'reminder' | 'cycle' | 'billingTime'>,
  outcome: Outcome<ReminderFacts>,
  now: number,
): EngineState {
  const marked: EngineState = { ...s, reminded: { ...s.reminded, [r.reminder]: r.cycle } };
  // The billing came meanwhile, or the subscription ended (a notification during the activity).
  if (now >= r.billingTime || isTerminal(s.snapshot.state)) return marked;
  const event = reminderEvent(s, r, outcome.ok ? outcome.value : undefined);
  return event ? recordEvents(marked, [event], now) : marked;
}

/**
 * What a subscription's workflow does next, as pure functions of its state and the time, composed
 * from each concern's own decisions (sync, events, episode, charge, pause, intents):
 *
 * - {@link settle} does the bookkeeping that needs no I/O: it opens, re-plans and closes dunning
 *   episodes, records their merchant events, and notices what has fallen due (a query, a
 *   reconciliation, the end of a charge's confirmation).
 * - {@link decide} names the one side effect to perform now, or how long to wait.
 *
 * The workflow performs the action, applies its result with the concern's reducer, and asks again.
 * Every promise the engine makes about charging is a property of `decide`: no charge starts
 * outside the order's charge window, and never while another is unconfirmed.
 */
import { dueReminder, reminderWakeTime } from './reminders/reminders';
import { type Action, type DecideContext } from './actions';
import { dueCharge } from './charge/charge';
import { type EngineState, gatewayOf, givenUp, hasEnded } from './engine-state';
import { dueFinalAction, firstOrderWaits, openEpisodeIfDue, settleEpisode } from './episode/settle-episode';
import { flushDue, flushRetryTime } from './events/flush';
import { decideIntent } from './intents/intents';
import { dueScheduledCancel, scheduledCancelDueAt } from './cancel/scheduled-cancel';
import { resumeIfDue } from './pause/pause';
import { dueQueries, handoverWaitUntil, noteAdoption, noteTerminal, reconcileDueAt } from './sync/sync';

/** The bookkeeping due at `now`; idempotent (settling twice at the same time changes nothing more). */
export function settle(state: EngineState, now: number): EngineState {
  let s = noteTerminal(state, now);
  s = noteAdoption(s, now);
  s = resumeIfDue(s, now);
  s = settleEpisode(s, now);
  if (!s.episode) s = settleEpisode(openEpisodeIfDue(s, now), now);
  s = dueQueries(s, now);
  // A new card is tried at once only in an episode that is retrying, not while billing is paused,
  // and only by an engine that can charge (elsewhere the gateway's own retries use the new card).
  if (
    s.retryNow &&
    (s.episode?.stage !== 'retrying' || s.billingPause || !gatewayOf(s).capabilities.manualCharge)
  )
    s = { ...s, retryNow: false };
  return s;
}

/** The next action at `now`. Call {@link settle} first. */
export function decide(s: EngineState, now: number, context: DecideContext): Action {
  const intent = s.intents[0];
  if (intent) return decideIntent(s, intent, now);
  if (givenUp(s)) return { kind: 'end', reason: 'not_found' };
  if (hasEnded(s)) return decideEnding(s, now);
  if (s.syncWanted && (s.syncRetryAt === null || now >= s.syncRetryAt))
    return { kind: 'sync', reason: 'wanted' };
  if (s.pendingCharge && now >= s.pendingCharge.nextCheckAt)
    return { kind: 'confirm', pending: s.pendingCharge };
  // Before any charge: at its time no charge may start any more (the same latest start).
  const action = dueScheduledCancel(s, now) ?? dueCharge(s, now) ?? dueFinalAction(s, now);
  if (action) return action;
  const reminder = dueReminder(s, now);
  if (reminder)
    return {
      kind: 'remind',
      reminder: reminder.reminder,
      cycle: reminder.cycle,
      billingTime: reminder.billingTime,
    };
  if (flushDue(s, now)) return { kind: 'flush' };
  if (context.continueAsNewSuggested) return { kind: 'continue_as_new' };
  return { kind: 'wait', until: wakeTime(s, now) };
}

function decideEnding(s: EngineState, now: number): Action {
  // Make sure QFPay agrees before the mirror closes: one query after the end was first seen.
  const synced = s.lastSyncAt !== null && s.terminalSince !== null && s.lastSyncAt >= s.terminalSince;
  if (!synced) {
    if (s.syncRetryAt === null || now >= s.syncRetryAt) return { kind: 'sync', reason: 'final' };
    return { kind: 'wait', until: s.syncRetryAt };
  }
  if (flushDue(s, now)) return { kind: 'flush' };
  // An event whose delivery could not be started yet (the subscription's last payment, its end)
  // keeps the run open until its start is tried again: the run's end would lose it.
  const retryAt = flushRetryTime(s);
  if (retryAt !== null) return { kind: 'wait', until: retryAt };
  return { kind: 'end', reason: 'ended' };
}

/** When something falls due next (a future time), or null when only a signal or update can wake it. */
export function wakeTime(s: EngineState, now: number): number | null {
  const times: number[] = [];
  const episode = s.episode;
  if (s.pendingCharge) times.push(s.pendingCharge.nextCheckAt, s.pendingCharge.confirmUntil);
  if (episode) {
    if (episode.stage === 'retrying' && !s.pendingCharge && episode.schedule[0] !== undefined) {
      times.push(episode.schedule[0]);
    }
    times.push(episode.nextBillingTime);
    if (episode.finalAction?.retryAt !== undefined) times.push(episode.finalAction.retryAt);
    if (episode.stage === 'retrying' && episode.recoveryCheckAt !== undefined)
      times.push(episode.recoveryCheckAt);
  }
  if (s.syncRetryAt !== null) times.push(s.syncRetryAt);
  if (s.flushRetryAt !== undefined && s.outbox.length > 0) times.push(s.flushRetryAt);
  const handoverBy = handoverWaitUntil(s);
  if (handoverBy !== null && !episode && firstOrderWaits(s)) times.push(handoverBy);
  if (s.billingPause?.resumesAt !== null && s.billingPause?.resumesAt !== undefined)
    times.push(s.billingPause.resumesAt);
  const cancelAt = scheduledCancelDueAt(s);
  if (cancelAt !== null) times.push(cancelAt);
  const remindAt = reminderWakeTime(s, now);
  if (remindAt !== null) times.push(remindAt);
  // With the reconciler, its signal wakes the workflow for this question: no timer of its own.
  const reconcileAt = reconcileDueAt(s);
  if (reconcileAt !== null && s.options.reconciler !== 'schedule') times.push(reconcileAt);
  const future = times.filter((t) => t > now);
  return future.length === 0 ? null : Math.min(...future);
}

/**
 * The recovery figures of `GET /v1/reports/dunning`: over a time range, how many dunning episodes
 * opened, and how those that closed ended (recovered, and at which attempt; exhausted; lost; stopped),
 * by gateway and by the policy's ladder. Pure: the API gathers the episodes the subscriptions hold,
 * this counts them.
 */
import type { DunningEpisode } from './dunning-episode';
import type { DunningFinalAction, DunningPolicy } from './dunning';

/** What the report groups by: the policy's attempt offsets and final action when the episode opened. */
export interface DunningLadder {
  attemptOffsets: number[];
  finalAction: DunningFinalAction;
}

/** One subscription as the report reads it: its gateway, its current policy and its episodes. */
export interface ReportedSubscription {
  gateway: string;
  /** The subscription's policy now: the ladder of an episode that recorded none (opened before it was kept). */
  policy: DunningPolicy;
  /** The episodes it holds: its recent history and the open one. */
  episodes: readonly DunningEpisode[];
}

/** How a closed episode ended; see `DunningEpisode.outcome`. */
export type EpisodeOutcome = NonNullable<DunningEpisode['outcome']>;

/** Recovered episodes at one attempt: 0 is a recovery with no manual charge of the engine. */
export interface RecoveredAt {
  attempt: number;
  /** The ladder's offset of that attempt (ms after the failure); null for a charge the plan did not make. */
  offsetMs: number | null;
  count: number;
}

export interface DunningFigures {
  /** Episodes opened in the range. */
  opened: number;
  /** Of those, still open now. */
  stillOpen: number;
  /** Episodes closed in the range, by outcome. */
  closed: Record<EpisodeOutcome, number>;
  /** Recovered ÷ closed in the range; null when none closed. */
  recoveryRate: number | null;
  /** The recovered episodes by the attempt that recovered them, lowest first. */
  recoveredAt: RecoveredAt[];
}

export interface DunningReportGroup extends DunningFigures {
  gateway: string;
  ladder: DunningLadder;
}

export interface DunningReport {
  from: number;
  to: number;
  totals: DunningFigures;
  /** One per gateway and ladder with an episode in the range, ordered by gateway, then ladder. */
  groups: DunningReportGroup[];
}

/** The ladder an episode opened under, or the subscription's policy's for one that recorded none. */
export function ladderOf(episode: DunningEpisode, policy: DunningPolicy): DunningLadder {
  return episode.ladder ?? { attemptOffsets: [...policy.attemptOffsets], finalAction: policy.finalAction };
}

/**
 * The attempt that recovered an episode: the last succeeded one (its offset when the plan made it),
 * or attempt 0 when the order was paid otherwise (the gateway's own retry, the customer).
 */
export function recoveringAttempt(
  episode: DunningEpisode,
  ladder: DunningLadder,
): Omit<RecoveredAt, 'count'> {
  // An order is paid once: at most one attempt of an episode succeeded.
  const succeeded = episode.attempts.find((a) => a.result === 'succeeded');
  if (!succeeded) return { attempt: 0, offsetMs: null };
  const planned = succeeded.trigger === undefined || succeeded.trigger === 'scheduled';
  return {
    attempt: succeeded.attempt,
    offsetMs: planned ? (ladder.attemptOffsets[succeeded.attempt - 1] ?? null) : null,
  };
}

const OUTCOMES: readonly EpisodeOutcome[] = ['recovered', 'exhausted', 'lost', 'stopped'];

function emptyFigures(): DunningFigures {
  return {
    opened: 0,
    stillOpen: 0,
    closed: { recovered: 0, exhausted: 0, lost: 0, stopped: 0 },
    recoveryRate: null,
    recoveredAt: [],
  };
}

function add(
  figures: DunningFigures,
  episode: DunningEpisode,
  ladder: DunningLadder,
  from: number,
  to: number,
): void {
  const within = (t: number | undefined) => t !== undefined && t >= from && t < to;
  if (within(episode.openedAt)) {
    figures.opened += 1;
    if (episode.closedAt === undefined) figures.stillOpen += 1;
  }
  if (!within(episode.closedAt) || episode.outcome === undefined) return;
  figures.closed[episode.outcome] += 1;
  if (episode.outcome !== 'recovered') return;
  const at = recoveringAttempt(episode, ladder);
  const row = figures.recoveredAt.find((r) => r.attempt === at.attempt && r.offsetMs === at.offsetMs);
  if (row) row.count += 1;
  else figures.recoveredAt.push({ ...at, count: 1 });
}

function finish(figures: DunningFigures): DunningFigures {
  const closed = OUTCOMES.reduce((n, o) => n + figures.closed[o], 0);
  figures.recoveryRate = closed === 0 ? null : figures.closed.recovered / closed;
  figures.recoveredAt.sort((a, b) => a.attempt - b.attempt || (a.offsetMs ?? -1) - (b.offsetMs ?? -1));
  return figures;
}

const ladderKey = (ladder: DunningLadder) => `${ladder.attemptOffsets.join(',')}:${ladder.finalAction}`;

/**
 * Counts the episodes of `subscriptions` in `[from, to)`: an episode counts as opened when it opened
 * in the range, and by its outcome when it closed in the range (one opened before and closed in it
 * counts only by its outcome).
 */
export function dunningReport(
  subscriptions: readonly ReportedSubscription[],
  range: { from: number; to: number },
): DunningReport {
  const { from, to } = range;
  const totals = emptyFigures();
  const groups = new Map<string, DunningReportGroup>();
  for (const sub of subscriptions) {
    for (const episode of sub.episodes) {
      const touched = [episode.openedAt, episode.closedAt].some(
        (t) => t !== undefined && t >= from && t < to,
      );
      if (!touched) continue;
      const ladder = ladderOf(episode, sub.policy);
      const key = `${sub.gateway}|${ladderKey(ladder)}`;
      let group = groups.get(key);
      if (!group) {
        group = { gateway: sub.gateway, ladder, ...emptyFigures() };
        groups.set(key, group);
      }
      add(totals, episode, ladder, from, to);
      add(group, episode, ladder, from, to);
    }
  }
  const ordered = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, group]) => {
      finish(group);
      return group;
    });
  return { from, to, totals: finish(totals), groups: ordered };
}

/**
 * The latest time an episode of `episodes` opened or closed, or null when there is none: what the
 * subscription's `DunningActivityAt` search attribute holds, so that the report reads only the
 * subscriptions with an episode at or after the range's start.
 */
export function lastDunningActivity(episodes: readonly DunningEpisode[]): number | null {
  const times = episodes.flatMap((e) => (e.closedAt === undefined ? [e.openedAt] : [e.openedAt, e.closedAt]));
  return times.length === 0 ? null : Math.max(...times);
}

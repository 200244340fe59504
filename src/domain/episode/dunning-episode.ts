/**
 * A dunning episode as the engine records it: its stage, its attempts and its final action. Plain
 * data (it travels in workflow state, queries and continue-as-new), shared by the domain's
 * decisions and reducers, the workflows and the API's views.
 */
import type { DUNNING_ATTEMPT_RESULTS, DunningFinalAction } from './dunning';

/** Where a dunning episode stands. */
export type DunningStage =
  'none' | 'retrying' | 'escalating' | 'recovered' | 'exhausted' | 'lost' | 'stopped';

/** What started a manual charge: the plan, a new card, or the merchant's charge-now. */
export type ChargeTrigger = 'scheduled' | 'retry_now' | 'merchant';

export interface DunningAttemptRecord {
  attempt: number;
  scheduledAt: number;
  startedAt: number;
  finishedAt: number;
  /** `pending` while the engine confirms a charge whose outcome QFPay has not told yet. */
  result: (typeof DUNNING_ATTEMPT_RESULTS)[number];
  trigger?: ChargeTrigger;
  respcd?: string;
  detail?: string;
}

/** The final action of an exhausted episode, carried out only while the order is still unpaid. */
export interface FinalActionRecord {
  action: DunningFinalAction;
  status: 'pending' | 'done' | 'failed' | 'skipped';
  /** When it fell due; it runs only after a query made since has shown the order still unpaid. */
  since: number;
  attempts: number;
  retryAt?: number;
  detail?: string;
}

/** A dunning episode: the recovery of one failed order before the next billing time. */
export interface DunningEpisode {
  orderId: string;
  sequenceNo: number;
  openedAt: number;
  /**
   * The policy's attempt offsets and final action when the episode opened, for the dunning report
   * (absent in episodes opened before it was kept: the report takes the subscription's policy).
   */
  ladder?: { attemptOffsets: number[]; finalAction: DunningFinalAction };
  failureAt: number;
  /** QFPay's code for the failure that opened the episode. */
  failureRespcd: string;
  /** The next billing time after the order, as last known (it moves with QFPay's answers). */
  nextBillingTime: number;
  /** `nextBillingTime − safetyMargin`: every charge is over before it. */
  deadline: number;
  /** The attempts still planned, derived from the current state and policy. */
  schedule: number[];
  attempts: DunningAttemptRecord[];
  stage: DunningStage;
  escalationStepsDone: string[];
  finalAction?: FinalActionRecord;
  /**
   * On a gateway that recovers on its own: when the engine asks the gateway whether its recovery
   * has ended, if the gateway has not said so by then (a day later again while it still retries).
   */
  recoveryCheckAt?: number;
  closedAt?: number;
  outcome?: 'recovered' | 'exhausted' | 'lost' | 'stopped';
  outcomeDetail?: string;
}

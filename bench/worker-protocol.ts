/** Messages between the benchmark and its worker child process (`worker-child.ts`). */
import type { WorkerOptions } from '@temporalio/worker';

/** Worker options the benchmark may tune (poller counts, executions, cache, threads). */
export type WorkerTuning = Partial<
  Pick<
    WorkerOptions,
    | 'maxCachedWorkflows'
    | 'maxConcurrentWorkflowTaskPolls'
    | 'maxConcurrentActivityTaskPolls'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxConcurrentActivityTaskExecutions'
    | 'workflowThreadPoolSize'
  >
>;

export type WorkerChildRequest = { kind: 'status'; id: number; gc: boolean } | { kind: 'shutdown' };

/** What the worker child reports about itself. */
export interface WorkerChildStatus {
  numCachedWorkflows: number;
  inFlightActivations: number;
  inFlightActivities: number;
  /** VmRSS of the worker process, KiB. */
  rssKb: number;
  /** V8 heap in use on the worker's main thread (workflow isolates run on worker threads), KiB. */
  heapUsedKb: number;
  externalKb: number;
}

export type WorkerChildReply =
  { kind: 'ready'; createMs: number } | ({ kind: 'status'; id: number } & WorkerChildStatus);

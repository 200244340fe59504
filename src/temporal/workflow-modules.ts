/**
 * The workflow modules every workflow in a worker shares (the SDK's `preloadModules`): evaluated
 * once, when the worker's V8 context is made, instead of once per workflow run. Without it, each
 * cached workflow holds its own copy of every module the workflows import (the domain's tables
 * and functions among them), and each cache miss evaluates them all again before it replays.
 * Safe because no workflow module keeps state at module scope or calls a workflow API there: every
 * module-level value is a constant, a pure function, or a definition (`defineSignal`, activity
 * proxies), and the SDK deep-freezes what it shares, so a write to one throws rather than leaks.
 */
export function sharedWorkflowModules(workflowsPath: string): { preloadModules: string[] } {
  return { preloadModules: [workflowsPath] };
}

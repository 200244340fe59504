/**
 * The workflow modules every workflow in a worker shares (the SDK's `preloadModules`): evaluated
 * once, when the worker's V8 context is made, instead of once per workflow run. Without it, each
 * cached workflow holds its own copy of every module the workflows import (the domain's tables
 * and functions among them), and each cache miss evaluates them all again before it replays.
 * Safe because no workflow module keeps state at module scope or calls a workflow API there: every
 * module-level value is a constant, a pure function, or a definition (`defineSignal`, activity
 * proxies). The SDK deep-freezes what it shares, so a write to a shared object or array throws
 * rather than leaks; it does not freeze the contents of a Map or Set, so the lint
 * (eslint.config.mjs) refuses those at module scope, as it refuses a module-level let or var.
 */
export function sharedWorkflowModules(workflowsPath: string): { preloadModules: string[] } {
  return { preloadModules: [workflowsPath] };
}

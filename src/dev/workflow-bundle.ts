/**
 * Builds the workflow bundle once (webpack through the SDK) and caches it on disk, so tests and
 * benchmarks do not pay for bundling in every process, and the worker can start from a prebuilt
 * bundle (`WORKFLOW_BUNDLE_PATH`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../temporal/data-converter';
import { sharedWorkflowModules } from '../temporal/workflow-modules';

/** The directory of the workflow sources (`src/workflows`). */
export const WORKFLOWS_PATH = resolve(__dirname, '..', 'workflows');

/**
 * Bundles `src/workflows` (or another workflows module) and writes it to `outFile`, with the
 * workflow interceptor modules given (the chaos run's faults inside the sandbox).
 * @returns the path written
 */
export async function writeWorkflowBundle(
  outFile: string,
  workflowsPath = join(WORKFLOWS_PATH, 'index.ts'),
  workflowInterceptorModules: string[] = [],
): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    ...sharedWorkflowModules(workflowsPath),
    workflowInterceptorModules,
    // Workflow failures are converted inside the sandbox: they must encode messages too.
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, code);
  return outFile;
}

if (require.main === module) {
  const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  writeWorkflowBundle(out).then(
    (path) => console.log(`workflow bundle written to ${path}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

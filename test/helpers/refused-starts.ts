/**
 * A test file's dev server and workflow bundle with a refusing interceptor (one of
 * `test/helpers/refuse-*-event-starts.ts`), and the event ids whose delivery starts were refused, in
 * order (the workflow logs each refusal; the runtime's logger collects them). Set up once per file:
 * the runtime takes one logger per process.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { writeWorkflowBundle } from '../../src/dev/workflow-bundle';
import { startDevServer } from './temporal';

export function useRefusingDevServer(interceptorModule: string, refusalMessage: string) {
  const refusals: string[] = [];
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (String(entry.meta?.error ?? '').includes(refusalMessage))
        refusals.push(String(entry.meta?.eventId));
    }),
  });
  const server = {
    env: undefined as unknown as TestWorkflowEnvironment,
    bundlePath: '',
    refusals,
    /** Workflows to terminate when the file is done. */
    started: [] as WorkflowHandle[],
    track: (handle: WorkflowHandle) => void server.started.push(handle),
  };
  before(async () => {
    server.env = await startDevServer();
    server.bundlePath = await writeWorkflowBundle(
      join(mkdtempSync(join(tmpdir(), 'refused-starts-')), 'workflow-bundle.js'),
      undefined,
      [interceptorModule],
    );
  });
  after(async () => {
    await Promise.allSettled(server.started.map((h) => h.terminate('test file done')));
    await server.env?.teardown();
  });
  return server;
}

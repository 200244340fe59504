/**
 * `npm run replay`: the replay guard over the histories of a running cluster. Fetches the
 * histories of the workflows a visibility query selects from the configured Temporal
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS / API key as for the worker) and replays them
 * against a workflow build, before that build is rolled out. Exit status 1 when any history does
 * not replay (a change that would break running workflows), 0 otherwise.
 *
 *   npm run replay                                   open subscriptions against src/workflows
 *   npm run replay -- --bundle dist/workflow-bundle.js --limit 5000
 *   npm run replay -- --query 'WorkflowType="subscriptionWorkflow"'
 */
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadConfigOrExit } from '../src/config';
import { WORKFLOWS_PATH } from '../src/dev/workflow-bundle';
import { connectClient } from '../src/temporal/connection';
import { engineDataConverter } from '../src/temporal/data-converter';
import { WORKFLOW_TYPES } from '../src/workflows/definitions';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      query: {
        type: 'string',
        default: `WorkflowType="${WORKFLOW_TYPES.subscription}" AND ExecutionStatus="Running"`,
      },
      limit: { type: 'string', default: '1000' },
    },
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit <= 0)
    throw new Error(`--limit must be a positive integer, got ${values.limit}`);
  const config = loadConfigOrExit();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const client = await connectClient(config);
  const source = values.bundle
    ? { workflowBundle: { codePath: values.bundle } }
    : { workflowsPath: require.resolve(WORKFLOWS_PATH) };

  let replayed = 0;
  const failures: string[] = [];
  const histories = client.workflow
    .list({ query: values.query, pageSize: Math.min(limit, 1000) })
    .intoHistories();
  async function* firstN() {
    for await (const h of histories) {
      if (replayed >= limit) return;
      replayed += 1;
      yield h;
    }
  }
  // The histories' payloads are encrypted: replay decodes them with the engine's codec.
  const options = { ...source, dataConverter: engineDataConverter(config) };
  for await (const result of Worker.runReplayHistories(options, firstN())) {
    if (result.error) failures.push(`${result.workflowId} (run ${result.runId}): ${result.error.message}`);
  }
  await client.connection.close();
  process.stdout.write(
    `replayed ${replayed} histories (${values.query}) against ${values.bundle ?? 'src/workflows'}: ` +
      `${replayed - failures.length} replayed, ${failures.length} failed\n`,
  );
  for (const f of failures) process.stdout.write(`  ${f}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`replay failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

/**
 * What the workflow bundle carries. The SDK's sandbox evaluates a workflow module once for every
 * cached workflow unless the bundle preloads it, so each package that slips into the bundle can be
 * paid for per open subscription (zod was: about 1 MB of worker memory each). Only the SDK's own
 * workflow-side packages may be in it, and the engine's workflows are preloaded: evaluated once per
 * worker and shared (src/temporal/workflow-modules.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeWorkflowBundle } from '../../src/dev/workflow-bundle';

/** The SDK's workflow runtime and its own dependencies. */
const ALLOWED_PACKAGES = new Set(['@temporalio/common', '@temporalio/workflow', 'nexus-rpc', 'long', 'ms']);

async function bundleCode(): Promise<string> {
  const prebuilt = process.env.TEST_WORKFLOW_BUNDLE;
  const path =
    prebuilt ?? (await writeWorkflowBundle(join(tmpdir(), `workflow-bundle-test-${process.pid}.js`)));
  return readFileSync(path, 'utf8');
}

/** Package names of every `./node_modules/…` module webpack put in the bundle. */
function bundledPackages(code: string): Set<string> {
  const names = new Set<string>();
  for (const match of code.matchAll(/"\.\/node_modules\/((?:@[^/"]+\/)?[^/"]+)\//g)) names.add(match[1]!);
  return names;
}

void describe('workflow bundle', () => {
  void it('holds only the SDK’s workflow packages, no schema or I/O library', async () => {
    const packages = bundledPackages(await bundleCode());
    assert.ok(packages.has('@temporalio/workflow'), 'the module list was read from the bundle');
    const unexpected = [...packages].filter((name) => !ALLOWED_PACKAGES.has(name));
    assert.deepEqual(unexpected, [], `packages evaluated once per cached workflow: ${unexpected.join(', ')}`);
  });

  void it('holds the engine’s workflow and domain modules and failure converter, and none of its API, activity or emulator code', async () => {
    const code = await bundleCode();
    const ours = new Set([...code.matchAll(/"\.\/src\/([^"]+)"/g)].map((m) => m[1]!));
    assert.ok(ours.has('workflows/subscription.ts'));
    // Workflow failures are converted in the sandbox: their messages must be encoded there too.
    assert.ok(ours.has('temporal/failure-converter.ts'), 'the encoding failure converter is bundled');
    const allowed = new Set(['temporal/failure-converter.ts']);
    // The pure domain the workflows are built on (its imports are held to the domain by the lint).
    const outside = [...ours].filter(
      (path) => !path.startsWith('workflows/') && !path.startsWith('domain/') && !allowed.has(path),
    );
    assert.deepEqual(outside, []);
    assert.ok(ours.has('domain/lifecycle/lifecycle.ts'), 'the domain is bundled with the workflows');
  });

  void it('preloads the engine’s workflow modules, so every workflow of a worker shares one copy', async () => {
    const code = await bundleCode();
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code);
    assert.ok(preload, 'the bundle has the SDK’s preload entry');
    assert.match(preload[1]!, /"\.\/src\/workflows\/index\.ts"/, 'the workflows module is preloaded');
  });
});

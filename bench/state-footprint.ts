/**
 * `npm run bench:state-footprint`: how much of a cached subscription's memory is the engine's own
 * state. Phase 5 compares the worker's RSS per cached workflow against the floor (a workflow that
 * holds nothing); this tool measures the part of the difference that is the subscription's state,
 * in V8's heap, as the workflow holds it.
 *
 * It measures three real states: an adoption before its first sync (the pure reducers, as phase 5
 * adopts), and the state carried through continue-as-new by two recorded histories (decoded with
 * the development key, as the tests record them). For each it keeps N copies alive (each parsed
 * anew, so nothing is shared), forces a GC, and reads the heap's growth per copy; then the same
 * for each top-level field on its own, so the largest parts are named.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { temporal } from '@temporalio/proto';
import { applyFactToState, initialState } from '../src/domain/engine-state';
import { developmentDataConverter } from '../src/dev/development-data-converter';
import { adoptedInput, fakeSubscriptionId, stateFact } from './notifications';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const { values } = parseArgs({ options: { copies: { type: 'string', default: '5000' } } });
const copies = Number(values.copies);
if (!Number.isInteger(copies) || copies < 100) throw new Error('--copies: a whole number ≥ 100');

/** Heap growth per copy of `json` parsed `copies` times and kept alive, in bytes. */
function heapPerCopy(json: string): number {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: unknown[] = new Array(copies);
  for (let i = 0; i < copies; i++) kept[i] = JSON.parse(json);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (kept.length !== copies) throw new Error('unreachable');
  // The array's own slots (8 bytes each) are not the state's.
  return (after - before) / copies - 8;
}

const fixtures = join(__dirname, '..', 'test', 'fixtures', 'histories');

/** The state a recorded history carries through continue-as-new (or starts with, when continued). */
async function carriedState(file: string): Promise<unknown> {
  const history = temporal.api.history.v1.History.decode(readFileSync(join(fixtures, file)));
  const events = history.events ?? [];
  const payload =
    events.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)
      ?.workflowExecutionContinuedAsNewEventAttributes?.input?.payloads?.[0] ??
    events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`${file}: no input payload`);
  const converter = developmentDataConverter();
  const [decoded] = await converter.payloadCodecs![0]!.decode([payload as never]);
  const input = JSON.parse(Buffer.from(decoded!.data!).toString('utf8')) as { carried?: unknown };
  if (input.carried === undefined) throw new Error(`${file}: its input carries no state`);
  return input.carried;
}

async function main(): Promise<void> {
  const id = fakeSubscriptionId();
  const now = Date.now();
  const adopted = applyFactToState(initialState(adoptedInput(id)), stateFact(id, 'ACTIVE', now), now);
  const states: Array<[string, unknown]> = [
    ['adopted, before its first sync (as phase 5 adopts)', adopted],
    ['carried by subscription-continue-as-new', await carriedState('subscription-continue-as-new.binpb')],
    [
      'carried by subscription-metadata-continued',
      await carriedState('subscription-metadata-continued.binpb'),
    ],
  ];
  console.log(`${copies} copies of each, kept alive; heap growth per copy after a full GC\n`);
  console.log('| state | JSON bytes | heap bytes | largest fields (heap bytes) |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, state] of states) {
    const json = JSON.stringify(state);
    const fields = Object.entries(state as Record<string, unknown>)
      .filter(([, v]) => v !== null && typeof v === 'object')
      .map(([k, v]) => [k, heapPerCopy(JSON.stringify(v))] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([k, b]) => `${k} ${Math.round(b)}`)
      .join(', ');
    console.log(`| ${name} | ${json.length} | ${Math.round(heapPerCopy(json))} | ${fields} |`);
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

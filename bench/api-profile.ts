/**
 * `npm run bench:api-profile -- FILE.cpuprofile --requests N`: the API's CPU by stage of a webhook
 * request, from a V8 CPU profile of the API process (`npm run bench -- --api-cpu-prof DIR`).
 * Every sample's stack is put in one stage: the innermost frame that names one decides, so
 * `crypto` under the signature check counts as the signature, and protobuf under the Temporal
 * client as the client. Prints ms per request for each stage, and the idle share.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const STAGES = [
  'body read',
  'signature',
  'parse and validate',
  'Temporal client (payloads, codec, protobuf)',
  'gRPC',
  'Express and its middleware',
  'our API code (routes, middleware)',
  'logging, metrics, tracing',
  'Node HTTP and sockets',
  'garbage collection',
  'other',
  'idle',
] as const;
export type Stage = (typeof STAGES)[number];

export interface CallFrame {
  functionName: string;
  url: string;
}

/** Functions only a webhook request runs: samples inside them mark the window of webhook traffic. */
const PER_REQUEST = new Set(['verifyNotificationSignature', 'parseNotificationBody']);

/** Stages recognised by a frame of the stack, in the order they are tried for that frame. */
const SPECIFIC: Array<[Stage, (f: CallFrame) => boolean]> = [
  ['signature', (f) => f.functionName === 'verifyNotificationSignature' || f.url.includes('/qfpay/signing')],
  [
    'parse and validate',
    (f) =>
      f.url.includes('/qfpay/notifications') ||
      f.url.includes('/qfpay/facts') ||
      f.url.includes('/api/validate') ||
      f.url.includes('/node_modules/zod/'),
  ],
  ['body read', (f) => /\/node_modules\/(raw-body|body-parser|iconv-lite|content-type)\//.test(f.url)],
  ['gRPC', (f) => f.url.includes('/node_modules/@grpc/') || f.url.startsWith('node:internal/http2')],
  [
    'Temporal client (payloads, codec, protobuf)',
    (f) =>
      /\/node_modules\/(@temporalio\/(client|common|proto)|protobufjs|long)\//.test(f.url) ||
      f.url.includes('/src/temporal/'),
  ],
  [
    'logging, metrics, tracing',
    (f) => /\/node_modules\/(pino[^/]*|prom-client|@opentelemetry\/[^/]+)\//.test(f.url),
  ],
  [
    'Express and its middleware',
    (f) =>
      /\/node_modules\/(express|router|path-to-regexp|finalhandler|on-finished|send|cors|qs)\//.test(f.url),
  ],
  ['our API code (routes, middleware)', (f) => f.url.includes('/src/')],
];

/** The stage of a sample whose stack is `frames`, innermost first. */
export function stageOf(frames: readonly CallFrame[]): Stage {
  const leaf = frames[0];
  if (leaf?.functionName === '(idle)') return 'idle';
  if (leaf?.functionName === '(garbage collector)') return 'garbage collection';
  for (const frame of frames) {
    for (const [stage, matches] of SPECIFIC) if (matches(frame)) return stage;
  }
  if (frames.some((f) => /^node:(_http|net|internal\/(streams|stream_base|http|net))/.test(f.url))) {
    return 'Node HTTP and sockets';
  }
  return 'other';
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * µs of the profile spent in each stage, between the first and the last sample taken inside a
 * webhook request's signature check or parse (so the process's start, its module loading and
 * compilation, is not counted). The times are wall-clock between samples: on a loaded machine
 * they include time the thread waited for a core, so read the shares, and scale them to the
 * process's CPU time measured apart (the bench's CPU table).
 */
export function stageTimes(profile: CpuProfile): Record<Stage, number> {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const stageById = new Map<number, Stage>();
  const stageOfNode = (id: number): Stage => {
    const known = stageById.get(id);
    if (known) return known;
    const frames: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node) frames.push(node.callFrame);
    }
    const stage = stageOf(frames);
    stageById.set(id, stage);
    return stage;
  };
  const inRoute = new Map<number, boolean>();
  const isInRoute = (id: number): boolean => {
    let known = inRoute.get(id);
    if (known === undefined) {
      known = false;
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        if (PER_REQUEST.has(byId.get(at)?.callFrame.functionName ?? '')) known = true;
      }
      inRoute.set(id, known);
    }
    return known;
  };
  const first = profile.samples.findIndex(isInRoute);
  const last = profile.samples.findLastIndex(isInRoute);
  const times = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  if (first < 0) return times;
  // timeDeltas[i] is the time before sample i: it belongs to the sample before it.
  for (let i = first + 1; i <= last; i += 1) {
    times[stageOfNode(profile.samples[i - 1]!)] += profile.timeDeltas[i] ?? 0;
  }
  return times;
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { requests: { type: 'string' }, 'cpu-ms': { type: 'string' } },
  });
  const file = positionals[0];
  const requests = Number(values.requests);
  if (!file || !Number.isInteger(requests) || requests <= 0) {
    process.stderr.write(
      'usage: npm run bench:api-profile -- FILE.cpuprofile --requests N [--cpu-ms MS per request, measured]\n',
    );
    process.exit(2);
  }
  const times = stageTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const total = Object.values(times).reduce((a, b) => a + b, 0);
  const busy = total - times.idle;
  // Profile time is wall-clock between samples; scaled to the measured CPU when it is given.
  const cpuMs = values['cpu-ms'] === undefined ? undefined : Number(values['cpu-ms']);
  const perRequest = (us: number) => us / 1000 / requests;
  const scaled = (us: number) => (cpuMs === undefined ? '' : ` ${((cpuMs * us) / busy).toFixed(2)} |`);
  const rows = STAGES.filter((s) => s !== 'idle').map(
    (s) =>
      `| ${s} | ${perRequest(times[s]).toFixed(3)} | ${((100 * times[s]) / busy).toFixed(1)} % |${scaled(times[s])}`,
  );
  process.stdout.write(
    [
      `${requests} requests; profile ${(total / 1e6).toFixed(1)} s, idle ${((100 * times.idle) / total).toFixed(1)} %`,
      '',
      `| stage | profile ms per request | share of busy |${cpuMs === undefined ? '' : ' CPU ms per request |'}`,
      `| --- | --- | --- |${cpuMs === undefined ? '' : ' --- |'}`,
      ...rows,
      `| all | ${perRequest(busy).toFixed(3)} | 100 % |${scaled(busy)}`,
      '',
    ].join('\n'),
  );
}

if (require.main === module) main();

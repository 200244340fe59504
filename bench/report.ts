/** The benchmark's report: machine facts, a plain-text table for stdout, and the JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { activeStorageCostUsd, actionsCostUsd, type ActionCount } from './cloud-cost';
import { CPU_PARTS, cpuTotal, type CpuFigures, type CpuPart } from './cpu';
import type { CreationResult } from './phases/creation';
import { DEFAULT_MAX_HISTORY_EVENTS, WORKFLOW_TASK_TIMEOUT_MS, type HistoryResult } from './phases/history';
import type { IngestionResult } from './phases/ingestion';
import type { MemoryResult } from './phases/memory';
import type { PopulationResult } from './phases/population';
import type { DbMode } from './stack';

/** Column names of the CPU table. */
const CPU_PART_LABELS: Record<CpuPart, string> = {
  api: 'API',
  worker: 'worker',
  server: 'Temporal server',
  bench: 'bench (load + emulator)',
};

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  date: string;
}

/** The results of one database mode. */
export interface DbResults {
  db: DbMode;
  stackStartMs: number;
  workerCreateMs: number;
  ingestion: IngestionResult[];
  creation?: CreationResult;
  history?: HistoryResult;
  memory?: MemoryResult;
  /** The same measurement with the floor workflow (`bench/floor/workflows.ts`). */
  memoryFloor?: MemoryResult;
  /** Payments spread over a population of open subscriptions (phase 7). */
  population?: PopulationResult;
  /** `cluster` only: PostgreSQL's growth over each ingestion step. */
  database?: DatabaseGrowth[];
}

/** How much Temporal's PostgreSQL databases grew while an ingestion step ran. */
export interface DatabaseGrowth {
  subscriptions: number;
  /** Workflows the step started (its own and the ceiling's). */
  workflows: number;
  /** Notifications applied (signals), both runs. */
  facts: number;
  bytes: number;
}

export interface BenchReport {
  machine: MachineInfo;
  options: Record<string, unknown>;
  workflowBundleMs?: number;
  results: DbResults[];
  durationMs: number;
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : '—');

/** The report as Markdown tables (printed to stdout and pasted into docs/performance.md). */
export function renderReport(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    `${m.date} · ${m.cores} cores (${m.cpuModel}) · ${m.memoryGb} GB · Node ${m.node} · options ${JSON.stringify(report.options)}`,
    '',
    '**Webhook ingestion vs the raw Temporal ceiling (phases 1, 2, 6)**',
    '',
    table(
      [
        'db',
        'S subs',
        'N notif.',
        'C',
        'ours req/s',
        'ours p50/p95/p99 ms',
        'errors',
        'ceiling sig/s',
        'ceiling p50/p95/p99 ms',
        'ours/ceiling',
        'drain ours/ceil s',
        'converge p50/p99 ms',
        'worker cached / RSS MB after',
      ],
      report.results.flatMap((r) =>
        r.ingestion.map((i) => [
          r.db,
          i.subscriptions,
          i.notifications,
          i.concurrency,
          i.ours.throughput,
          `${ms(i.ours.latencyMs.p50)}/${ms(i.ours.latencyMs.p95)}/${ms(i.ours.latencyMs.p99)}`,
          i.ours.errors + i.ceiling.errors,
          i.ceiling.throughput,
          `${ms(i.ceiling.latencyMs.p50)}/${ms(i.ceiling.latencyMs.p95)}/${ms(i.ceiling.latencyMs.p99)}`,
          i.throughputRatio.toFixed(2),
          `${(i.ours.drainMs / 1000).toFixed(1)}/${(i.ceiling.drainMs / 1000).toFixed(1)}`,
          `${ms(i.convergence.latencyMs.p50)}/${ms(i.convergence.latencyMs.p99)}`,
          `${i.worker.cached} / ${i.worker.rssMb}`,
        ]),
      ),
    ),
  ];
  out.push(
    '',
    '**CPU ms per notification, by process (over the load and its drain)**',
    '',
    table(
      [
        'db',
        'S subs',
        'run',
        ...CPU_PARTS.map((p) => CPU_PART_LABELS[p]),
        'total',
        'signals per workflow task',
      ],
      report.results.flatMap((r) =>
        r.ingestion.flatMap((i) =>
          (
            [
              ['webhook', i.ours],
              ...(i.bare ? [['webhook without Express', i.bare] as const] : []),
              ['ceiling (signal-with-start)', i.ceiling],
            ] as const
          ).map(([run, figures]) => {
            const cpu = figures.cpuMsPerNotification;
            const values = CPU_PARTS.map((p) => cpu[p]);
            const total = cpuTotal(cpu)?.toFixed(2) ?? 'unmeasured';
            return [
              r.db,
              i.subscriptions,
              run,
              ...values.map((v) => (v === null ? 'unmeasured' : v.toFixed(2))),
              total,
              figures.signalsPerWorkflowTask?.toFixed(2) ?? '—',
            ];
          }),
        ),
      ),
    ),
  );
  const bare = report.results.flatMap((r) => r.ingestion.map((i) => ({ db: r.db, i })));
  if (bare.some(({ i }) => i.bare)) {
    // Its CPU is in the table above; the webhook's and the ceiling's figures in the first.
    out.push(
      '',
      '**The webhook without Express (`--bare-webhook`): the same intake on a bare `node:http` server**',
      '',
      table(
        ['db', 'S subs', 'bare req/s', 'bare p50/p95/p99 ms', 'errors', 'bare/ceiling', 'drain s'],
        bare.flatMap(({ db, i }) =>
          i.bare
            ? [
                [
                  db,
                  i.subscriptions,
                  i.bare.throughput,
                  `${ms(i.bare.latencyMs.p50)}/${ms(i.bare.latencyMs.p95)}/${ms(i.bare.latencyMs.p99)}`,
                  i.bare.errors,
                  i.bare.throughputRatio.toFixed(2),
                  (i.bare.drainMs / 1000).toFixed(1),
                ],
              ]
            : [],
        ),
      ),
    );
  }
  const growth = report.results.flatMap((r) => r.database ?? []);
  if (growth.length > 0) {
    out.push(
      '',
      "**PostgreSQL's growth per ingestion step (cluster)**",
      '',
      table(
        ['S subs', 'workflows started', 'facts applied', 'MB', 'KB per workflow'],
        growth.map((g) => [
          g.subscriptions,
          g.workflows,
          g.facts,
          (g.bytes / 1_048_576).toFixed(1),
          (g.bytes / 1024 / g.workflows).toFixed(1),
        ]),
      ),
    );
  }
  const populations = report.results.filter((r) => r.population);
  if (populations.length > 0) {
    out.push(
      '',
      '**Payments over a population of open subscriptions (phase 7)**',
      '',
      table(
        [
          'db',
          'P open',
          'growth: adopted/s',
          'growth CPU ms per adoption: API/worker/server/bench',
          'growth: worker max RSS MB / max cached',
          'DB KB per subscription',
          'N payments',
          'webhook req/s',
          'p50/p99 ms',
          'errors',
          'drain s',
          'applied/s',
          'CPU ms per payment: API/worker/server/bench',
          'converge p50/p99 ms',
          'worker cached / RSS MB after',
        ],
        populations.flatMap((r) =>
          r.population!.steps.map((s) => [
            r.db,
            s.population,
            s.growth.perSecond,
            CPU_PARTS.map((p) => s.growth.cpuMsPerAdoption[p]?.toFixed(1) ?? '—').join('/'),
            `${s.growth.workerMaxRssMb} / ${s.growth.workerMaxCached}`,
            s.growth.databaseKbPerSubscription ?? '—',
            s.measure.notifications,
            s.measure.acceptedPerSecond,
            `${ms(s.measure.latencyMs.p50)}/${ms(s.measure.latencyMs.p99)}`,
            s.measure.errors + s.growth.errors,
            (s.measure.drainMs / 1000).toFixed(1),
            s.measure.appliedPerSecond,
            CPU_PARTS.map((p) => s.measure.cpuMsPerNotification[p]?.toFixed(1) ?? '—').join('/'),
            `${ms(s.convergence.latencyMs.p50)}/${ms(s.convergence.latencyMs.p99)}`,
            `${s.worker.cached} / ${s.worker.rssMb}`,
          ]),
        ),
      ),
      '',
      ...populations.map((r) => {
        const p = r.population!;
        const first = p.steps[0]!;
        const last = p.steps.at(-1)!;
        return `${r.db}: applied/s at ${last.population} / at ${first.population} open subscriptions = ${p.appliedRatio.toFixed(2)} (floor 1); webhook req/s ${p.acceptedRatio.toFixed(2)}`;
      }),
    );
  }
  const creations = report.results.filter((r) => r.creation);
  if (creations.length > 0) {
    out.push(
      '',
      '**Creation through `POST /v1/subscriptions` (phase 3)**',
      '',
      table(
        [
          'db',
          'subscriptions',
          'C',
          'created/s',
          'p50 ms',
          'p99 ms',
          'errors',
          'emulator requests / ms per creation',
          'emulator share of mean latency',
        ],
        creations.map((r) => {
          const c = r.creation!;
          return [
            r.db,
            c.subscriptions,
            c.concurrency,
            c.throughput,
            ms(c.latencyMs.p50),
            ms(c.latencyMs.p99),
            c.errors,
            `${Math.round((c.emulator.requests / Math.max(c.created, 1)) * 10) / 10} / ${c.emulator.msPerCreation}`,
            c.emulator.shareOfMeanLatency,
          ];
        }),
      ),
      '',
      ...creations.flatMap((r) => {
        const cpuLine = (cpu: CpuFigures) =>
          CPU_PARTS.map((p) => `${CPU_PART_LABELS[p]} ${cpu[p] ?? 'unmeasured'}`).join(', ') +
          `; ${cpuTotal(cpu)?.toFixed(1) ?? 'unmeasured'} in all`;
        const { cpuMsPerCreation, floor } = r.creation!;
        return [
          `${r.db}: CPU ms per created subscription (until the worker is idle): ${cpuLine(cpuMsPerCreation)}`,
          ...(floor
            ? [
                '',
                `${r.db}: its floor, no creation workflow and no API (QFPay's calls and the hand-over from the bench ` +
                  `process): ${floor.throughput}/s, p50 ${ms(floor.latencyMs.p50)} ms, ${floor.errors} errors; ` +
                  `through the API ÷ floor ${floor.throughputRatio.toFixed(2)}; CPU ms per creation: ${cpuLine(floor.cpuMsPerCreation)}`,
              ]
            : []),
        ];
      }),
    );
  }
  const histories = report.results.filter((r) => r.history);
  if (histories.length > 0) {
    out.push(
      '',
      '**History cost (phase 4)**',
      '',
      table(
        [
          'db',
          'start events/bytes',
          'per cycle events/bytes',
          'cycle bytes first→last',
          'per dunning episode events/bytes',
          `cycles before CAN (${DEFAULT_MAX_HISTORY_EVENTS} events)`,
          'update result bytes',
          `low threshold: predicted/observed cycle`,
          'continued run starts with events/bytes',
        ],
        histories.map((r) => {
          const h = r.history!;
          return [
            r.db,
            `${h.start.events}/${h.start.bytes}`,
            `${h.perCycle.events}/${h.perCycle.bytes}`,
            `${h.cycleBytesFirst}→${h.cycleBytesLast}`,
            `${h.perDunningEpisode.events}/${h.perDunningEpisode.bytes} (${h.dunningAttempts} attempts)`,
            h.predictedCyclesAtDefault,
            h.updateResultBytes,
            `${h.lowThreshold.maxHistoryEvents} ev: ${h.lowThreshold.predictedCycle}/${h.lowThreshold.observedCycle ?? 'none'}`,
            h.lowThreshold.continuedStart
              ? `${h.lowThreshold.continuedStart.events}/${h.lowThreshold.continuedStart.bytes}`
              : '—',
          ];
        }),
      ),
      '',
      ...histories.map(
        (r) =>
          `${r.db}: the last happy cycle's events: ` +
          Object.entries(r.history!.cycleEventTypes)
            .map(([type, t]) => `${t.events} × ${type} (${t.bytes} B)`)
            .join(', '),
      ),
    );
  }
  if (histories.length > 0) {
    const kinds = (a: ActionCount) =>
      Object.entries(a.byKind)
        .map(([kind, n]) => `${n} ${kind}`)
        .join(', ');
    const usd = (v: number) => `$${v.toFixed(5)}`;
    out.push(
      '',
      '**Temporal Cloud cost per subscription (from the histories above; bench/cloud-cost.ts)**',
      '',
      table(
        ['db', 'what', 'actions', 'by kind', 'USD at $50 per million'],
        histories.flatMap((r) => {
          const c = r.history!.cloudActions;
          return [
            [
              r.db,
              'adoption and first paid cycle (once)',
              c.start.total,
              kinds(c.start),
              usd(actionsCostUsd(c.start.total)),
            ],
            [
              r.db,
              'a happy month (one cycle)',
              c.cycle.total,
              kinds(c.cycle),
              usd(actionsCostUsd(c.cycle.total)),
            ],
            [
              r.db,
              `a month with a dunning episode (${r.history!.dunningAttempts} attempts)`,
              c.dunningEpisode.total,
              kinds(c.dunningEpisode),
              usd(actionsCostUsd(c.dunningEpisode.total)),
            ],
          ];
        }),
      ),
      '',
      ...histories.map((r) => {
        const h = r.history!;
        const at = (cycles: number) => h.start.bytes + cycles * h.perCycle.bytes;
        return (
          `${r.db}: active storage of an open subscription, USD a month at $0.042 per GBh: ` +
          `${usd(activeStorageCostUsd(at(12)))} after 12 cycles (${Math.round(at(12) / 1000)} KB of history), ` +
          `${usd(activeStorageCostUsd(at(h.predictedCyclesAtDefault)))} just before it continues as new ` +
          `(${h.predictedCyclesAtDefault} cycles, ${Math.round(at(h.predictedCyclesAtDefault) / 1000)} KB); queries (1 action each) leave no history and are not counted`
        );
      }),
      '',
      '**A cache miss: replaying an evicted subscription, by history length**',
      '',
      table(
        ['db', 'history events', 'history bytes', 'replay ms (median)'],
        histories.flatMap((r) => r.history!.replay.points.map((p) => [r.db, p.events, p.bytes, p.replayMs])),
      ),
      '',
      ...histories.map(
        (r) =>
          `${r.db}: median of ${r.history!.replay.rounds} rounds after a warm-up; fetching the whole history ` +
          `(${r.history!.replay.points.at(-1)?.events} events) from the server took ${r.history!.replay.fetchMs} ms; ` +
          `${r.history!.replay.msPerEvent} ms per event, so a subscription at the continue-as-new threshold ` +
          `(${DEFAULT_MAX_HISTORY_EVENTS} events) replays in about ${r.history!.replay.projectedAtThresholdMs} ms: ` +
          `${r.history!.replay.ofTaskTimeout} of the ${WORKFLOW_TASK_TIMEOUT_MS / 1000} s workflow task timeout (ceiling 1)`,
      ),
    );
  }
  const memories = report.results.filter((r) => r.memory);
  if (memories.length > 0) {
    out.push(
      '',
      '**Worker memory with open subscription workflows cached (phase 5)**',
      '',
      table(
        [
          'db',
          'workflow',
          'workflows',
          'cached',
          'RSS MB',
          'main heap MB',
          'KB/subscription (RSS)',
          'load s',
        ],
        memories.flatMap((r) =>
          [r.memory!, ...(r.memoryFloor ? [r.memoryFloor] : [])].flatMap((mem) => [
            [
              r.db,
              mem.workflow,
              0,
              mem.baseline.cached,
              mem.baseline.rssMb,
              mem.baseline.heapUsedMb,
              '—',
              '—',
            ],
            ...mem.points.map((p, i) => [
              r.db,
              mem.workflow,
              p.workflows,
              p.cached,
              p.rssMb,
              p.heapUsedMb,
              mem.kbPerSubscription[i] ?? '—',
              (p.loadMs / 1000).toFixed(1),
            ]),
          ]),
        ),
      ),
    );
    for (const r of memories) {
      const ratio = memoryOverFloor(r);
      if (ratio !== undefined) {
        out.push(
          '',
          `engine / floor, KB per subscription at ${ratio.workflows} workflows: ` +
            `${ratio.engineKb} / ${ratio.floorKb} = ${ratio.ratio.toFixed(2)}`,
        );
      }
    }
  }
  out.push(
    '',
    `stack start: ${report.results.map((r) => `${r.db} ${(r.stackStartMs / 1000).toFixed(1)} s (worker create ${r.workerCreateMs} ms)`).join(', ')}` +
      (report.workflowBundleMs === undefined
        ? ''
        : `; workflow bundle built in ${(report.workflowBundleMs / 1000).toFixed(1)} s`) +
      `; total ${(report.durationMs / 1000).toFixed(0)} s`,
  );
  return out.join('\n');
}

/** The engine's KB per cached subscription over the floor's, at the largest size both measured. */
export function memoryOverFloor(
  r: DbResults,
): { workflows: number; engineKb: number; floorKb: number; ratio: number } | undefined {
  const engine = r.memory;
  const floor = r.memoryFloor;
  if (!engine || !floor) return undefined;
  for (let i = engine.points.length - 1; i >= 0; i--) {
    const workflows = engine.points[i]!.workflows;
    const j = floor.points.findIndex((p) => p.workflows === workflows);
    const engineKb = engine.kbPerSubscription[i];
    const floorKb = floor.kbPerSubscription[j];
    if (j >= 0 && engineKb !== undefined && floorKb !== undefined && floorKb > 0) {
      return { workflows, engineKb, floorKb, ratio: engineKb / floorKb };
    }
  }
  return undefined;
}

/** Writes the JSON report to `dir/<timestamp>.json`. @returns the path */
export function writeReport(report: BenchReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${report.machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** Every figure the report must have; the names of those missing or not finite. */
export function missingFigures(report: BenchReport, phases: ReadonlySet<string>): string[] {
  const missing: string[] = [];
  const check = (name: string, value: unknown) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) missing.push(name);
  };
  for (const r of report.results) {
    if (phases.has('ingestion')) {
      if (r.ingestion.length === 0) missing.push(`${r.db}.ingestion`);
      for (const i of r.ingestion) {
        const p = `${r.db}.ingestion[S=${i.subscriptions}]`;
        const runs = [
          ['ours', i.ours],
          ['ceiling', i.ceiling],
          ...(i.bare ? [['bare', i.bare] as const] : []),
        ] as const;
        for (const [side, figures] of runs) {
          check(`${p}.${side}.throughput`, figures.throughput);
          for (const q of ['p50', 'p95', 'p99'] as const) check(`${p}.${side}.${q}`, figures.latencyMs[q]);
          if (figures.ok === 0) missing.push(`${p}.${side}.ok`);
          for (const part of CPU_PARTS)
            check(`${p}.${side}.cpuMsPerNotification.${part}`, figures.cpuMsPerNotification[part]);
        }
        check(`${p}.throughputRatio`, i.throughputRatio);
        if (i.bare) check(`${p}.bare.throughputRatio`, i.bare.throughputRatio);
        check(`${p}.convergence.p50`, i.convergence.latencyMs.p50);
        check(`${p}.convergence.p99`, i.convergence.latencyMs.p99);
        check(`${p}.worker.rssMb`, i.worker.rssMb);
      }
    }
    if (phases.has('creation')) {
      const c = r.creation;
      check(`${r.db}.creation.throughput`, c?.throughput);
      check(`${r.db}.creation.p50`, c?.latencyMs.p50);
      check(`${r.db}.creation.p99`, c?.latencyMs.p99);
      if (c && c.created === 0) missing.push(`${r.db}.creation.created`);
      check(`${r.db}.creation.emulator.msPerCreation`, c?.emulator.msPerCreation);
      for (const part of CPU_PARTS)
        check(`${r.db}.creation.cpuMsPerCreation.${part}`, c?.cpuMsPerCreation[part]);
      check(`${r.db}.creation.emulator.shareOfMeanLatency`, c?.emulator.shareOfMeanLatency);
      check(`${r.db}.creation.floor.throughput`, c?.floor?.throughput);
      if (c?.floor && c.floor.created === 0) missing.push(`${r.db}.creation.floor.created`);
      for (const part of CPU_PARTS)
        check(`${r.db}.creation.floor.cpuMsPerCreation.${part}`, c?.floor?.cpuMsPerCreation[part]);
    }
    if (phases.has('history')) {
      const h = r.history;
      check(`${r.db}.history.perCycle.events`, h?.perCycle.events);
      check(`${r.db}.history.perCycle.bytes`, h?.perCycle.bytes);
      check(`${r.db}.history.perDunningEpisode.events`, h?.perDunningEpisode.events);
      check(`${r.db}.history.perDunningEpisode.bytes`, h?.perDunningEpisode.bytes);
      check(`${r.db}.history.predictedCyclesAtDefault`, h?.predictedCyclesAtDefault);
      check(`${r.db}.history.updateResultBytes`, h?.updateResultBytes);
      check(`${r.db}.history.lowThreshold.observedCycle`, h?.lowThreshold.observedCycle ?? undefined);
      check(`${r.db}.history.lowThreshold.continuedStart`, h?.lowThreshold.continuedStart?.events);
      check(`${r.db}.history.cloudActions.cycle`, h?.cloudActions.cycle.total);
      check(`${r.db}.history.cloudActions.dunningEpisode`, h?.cloudActions.dunningEpisode.total);
      check(`${r.db}.history.replay.fetchMs`, h?.replay.fetchMs);
      check(`${r.db}.history.replay.ofTaskTimeout`, h?.replay.ofTaskTimeout);
      if (!h || h.replay.points.length < 2) missing.push(`${r.db}.history.replay.points`);
      for (const p of h?.replay.points ?? [])
        check(`${r.db}.history.replay[${p.events}].replayMs`, p.replayMs);
    }
    if (phases.has('population') && r === report.results[0]) {
      const pop = r.population;
      if (!pop || pop.steps.length === 0) missing.push(`${r.db}.population`);
      for (const s of pop?.steps ?? []) {
        const p = `${r.db}.population[${s.population}]`;
        check(`${p}.growth.perSecond`, s.growth.perSecond);
        check(`${p}.growth.workerMaxRssMb`, s.growth.workerMaxRssMb);
        for (const part of CPU_PARTS) {
          check(`${p}.growth.cpuMsPerAdoption.${part}`, s.growth.cpuMsPerAdoption[part]);
          check(`${p}.measure.cpuMsPerNotification.${part}`, s.measure.cpuMsPerNotification[part]);
        }
        if (r.db === 'cluster')
          check(`${p}.growth.databaseKbPerSubscription`, s.growth.databaseKbPerSubscription);
        check(`${p}.measure.acceptedPerSecond`, s.measure.acceptedPerSecond);
        check(`${p}.measure.appliedPerSecond`, s.measure.appliedPerSecond);
        check(`${p}.measure.p50`, s.measure.latencyMs.p50);
        check(`${p}.convergence.p50`, s.convergence.latencyMs.p50);
        check(`${p}.worker.rssMb`, s.worker.rssMb);
      }
      check(`${r.db}.population.appliedRatio`, pop?.appliedRatio);
    }
    if (phases.has('memory') && r === report.results[0]) {
      const mem = r.memory;
      if (!mem || mem.points.length === 0) missing.push(`${r.db}.memory`);
      for (const [i, p] of (mem?.points ?? []).entries()) {
        check(`${r.db}.memory[${p.workflows}].rssMb`, p.rssMb);
        check(`${r.db}.memory[${p.workflows}].heapUsedMb`, p.heapUsedMb);
        check(`${r.db}.memory[${p.workflows}].kbPerSubscription`, mem?.kbPerSubscription[i]);
      }
      const floor = r.memoryFloor;
      if (!floor || floor.points.length === 0) missing.push(`${r.db}.memoryFloor`);
      for (const [i, p] of (floor?.points ?? []).entries()) {
        check(`${r.db}.memoryFloor[${p.workflows}].kbPerSubscription`, floor?.kbPerSubscription[i]);
      }
    }
  }
  return missing;
}

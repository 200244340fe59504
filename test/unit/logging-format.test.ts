/**
 * Log lines a person can read: pretty on a terminal (or with LOG_FORMAT=pretty), JSON otherwise;
 * the workflow bundler's webpack report no longer arrives as one giant line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogLevel, LogMetadata } from '@temporalio/worker';
import pino from 'pino';
import { prettyLineFormatter, wantsPrettyLogs } from '../../src/logging-format';
import { bundlerReport } from '../../worker';

describe('log format', () => {
  it('is pretty on a terminal and JSON elsewhere, unless LOG_FORMAT says', () => {
    assert.equal(wantsPrettyLogs({ isTTY: true }, undefined), true);
    assert.equal(wantsPrettyLogs({ isTTY: false }, undefined), false);
    assert.equal(wantsPrettyLogs({}, undefined), false);
    assert.equal(wantsPrettyLogs({ isTTY: true }, 'json'), false);
    assert.equal(wantsPrettyLogs({ isTTY: false }, 'pretty'), true);
  });

  it('turns a JSON record into one readable line and leaves other lines alone', () => {
    const format = prettyLineFormatter(false);
    const started = JSON.stringify({
      level: 30,
      time: '2026-11-29T00:57:24.006Z',
      component: 'worker',
      name: 'worker',
      taskQueue: 'qfpay-subscriptions',
      msg: 'worker started',
    });
    const line = format(started);
    assert.match(
      line,
      /^\[\d\d:\d\d:\d\d\] INFO: worker: worker started \{"taskQueue":"qfpay-subscriptions"\}$/,
    );
    const request = JSON.stringify({
      level: 40,
      time: '2026-11-29T00:57:24.006Z',
      component: 'api',
      method: 'GET',
      path: '/readyz',
      status: 503,
      duration_ms: 2.5,
      msg: 'request',
    });
    assert.match(prettyLineFormatter(false, false)(request), /WARN: GET \/readyz 503 2\.5 ms/);
    for (const other of ['time=2026 level=INFO msg="dev server"', '{"level":', ''])
      assert.equal(format(other), other);
  });

  it('keeps the webpack report of the workflow bundle at debug, a line an item; problems stay visible', () => {
    const records: Array<{ level: number; msg: string; webpack?: string[] }> = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => records.push(JSON.parse(line)) });
    const report =
      'asset workflow-bundle.js 2.11 MiB [emitted]\nruntime modules 883 bytes 4 modules\nwebpack compiled';
    const meta: LogMetadata = { sdkComponent: 'worker' };
    assert.equal(bundlerReport(logger, 'INFO' as LogLevel, report, meta), true);
    assert.equal(bundlerReport(logger, 'INFO' as LogLevel, `${report}\nWARNING in ./src/x.ts`, meta), true);
    assert.equal(bundlerReport(logger, 'INFO' as LogLevel, 'Workflow bundle created', meta), false);
    assert.equal(bundlerReport(logger, 'INFO' as LogLevel, 'two\nlines', meta), false);
    assert.deepEqual(
      records.map((r) => [r.level, r.msg, r.webpack?.length]),
      [
        [20, 'workflow bundle: webpack report', 3],
        [40, 'workflow bundle: webpack reported problems', 4],
      ],
    );
  });
});

/**
 * On the time-skipping test server a run must end with nothing in flight, or the server keeps its
 * hold on time skipping and the tests after it wait in real time (see `terminateIdle`). This file
 * holds the reading of a history that decides it, and that no test on that server terminates a run
 * another way.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { inFlight } from '../helpers/temporal';
import { numberedEvents, type HistoryEvent } from '../helpers/history-events';

const type = temporal.api.enums.v1.EventType;
let event = numberedEvents();

/** A started run whose first workflow task completed. */
function started(): HistoryEvent[] {
  event = numberedEvents();
  return [
    event(type.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
    event(type.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
    event(type.EVENT_TYPE_WORKFLOW_TASK_STARTED),
    event(type.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
  ];
}

describe('what a history says is in flight', () => {
  it('nothing, once the last workflow task completed and every activity closed', () => {
    const events = started();
    const scheduled = event(type.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    events.push(
      scheduled,
      event(type.EVENT_TYPE_ACTIVITY_TASK_STARTED),
      event(type.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, {
        activityTaskCompletedEventAttributes: { scheduledEventId: scheduled.eventId },
      }),
      event(type.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
      event(type.EVENT_TYPE_WORKFLOW_TASK_STARTED),
      event(type.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
      event(type.EVENT_TYPE_TIMER_STARTED),
    );
    assert.equal(inFlight(events), 'idle');
  });

  it('a workflow task, from its scheduling to its completion', () => {
    const events = started();
    events.push(
      event(type.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
      event(type.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
    );
    assert.equal(inFlight(events), 'busy');
    events.push(event(type.EVENT_TYPE_WORKFLOW_TASK_STARTED));
    assert.equal(inFlight(events), 'busy');
    events.push(event(type.EVENT_TYPE_WORKFLOW_TASK_COMPLETED));
    assert.equal(inFlight(events), 'idle');
  });

  it('an activity, until it is closed whichever way', () => {
    for (const [closeType, attributes] of [
      [type.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 'activityTaskCompletedEventAttributes'],
      [type.EVENT_TYPE_ACTIVITY_TASK_FAILED, 'activityTaskFailedEventAttributes'],
      [type.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, 'activityTaskTimedOutEventAttributes'],
      [type.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes'],
    ] as const) {
      const events = started();
      const first = event(type.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
      const second = event(type.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
      events.push(first, second, event(type.EVENT_TYPE_ACTIVITY_TASK_STARTED));
      assert.equal(inFlight(events), 'busy');
      events.push(event(closeType, { [attributes]: { scheduledEventId: first.eventId } }));
      assert.equal(inFlight(events), 'busy', `${attributes}: the second activity is still out`);
      events.push(event(closeType, { [attributes]: { scheduledEventId: second.eventId } }));
      // Its close schedules a workflow task, which is in flight until it completes.
      events.push(event(type.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED));
      assert.equal(inFlight(events), 'busy');
      events.push(
        event(type.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        event(type.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
      );
      assert.equal(inFlight(events), 'idle', attributes);
    }
  });

  it('nothing more once the run has ended, however it ended', () => {
    const closings = Object.entries(type)
      .filter(([name]) =>
        /^EVENT_TYPE_WORKFLOW_EXECUTION_(COMPLETED|FAILED|TIMED_OUT|CANCELED|TERMINATED|CONTINUED_AS_NEW)$/.test(
          name,
        ),
      )
      .map(([, value]) => Number(value));
    assert.equal(closings.length, 6);
    for (const closing of closings) {
      const events = started();
      events.push(event(type.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), event(closing));
      assert.equal(inFlight(events), 'ended');
    }
  });
});

describe('tests on the time-skipping server', () => {
  const root = resolve(__dirname, '..', '..');
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : sources(path);
      return name.endsWith('.ts') ? [path] : [];
    });

  it('end their runs through terminateIdle only', () => {
    const onTheServer = [...sources(join(root, 'test')), ...sources(join(root, 'chaos'))].filter((file) =>
      /useTimeSkipping\(|startTimeSkipping\(|timeSkipping: true/.test(readFileSync(file, 'utf8')),
    );
    assert.ok(onTheServer.length >= 8, `found only ${onTheServer.length} files on the time-skipping server`);
    const offenders = onTheServer
      .filter(
        (file) =>
          !file.endsWith(join('helpers', 'temporal.ts')) &&
          !file.endsWith('time-skipping-terminate.test.ts') &&
          // It cuts a run off on purpose, to show the cleanup releases the hold that leaves.
          !file.endsWith('time-skipping-lock.test.ts'),
      )
      .filter((file) => /\.terminate\(/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    assert.deepEqual(offenders, []);
  });
});

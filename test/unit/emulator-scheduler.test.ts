import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EventQueue, Scheduler } from '../../src/gateways/qfpay/emulator/scheduler';

describe('emulator scheduler', () => {
  it('pops events by time, then in the order they were scheduled', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
        const queue = new EventQueue<'e'>();
        times.forEach((at, seq) => queue.push({ at, seq, kind: 'e', ref: String(seq) }));
        const popped: { at: number; seq: number }[] = [];
        for (let e = queue.pop(); e; e = queue.pop()) popped.push({ at: e.at, seq: e.seq });
        const expected = times.map((at, seq) => ({ at, seq })).sort((a, b) => a.at - b.at || a.seq - b.seq);
        assert.deepEqual(popped, expected);
      }),
    );
  });

  it('merges state events and deliveries into one time order, and stops at the horizon', () => {
    const scheduler = new Scheduler();
    scheduler.schedule('bill', 'sub_a', 100);
    scheduler.scheduleDelivery('ntf_1', 50);
    scheduler.schedule('retry', 'sub_a', 50);
    scheduler.scheduleDelivery('ntf_2', 200);
    const order: string[] = [];
    for (let e = scheduler.nextDue(150); e; e = scheduler.nextDue(150)) order.push(`${e.kind}@${e.at}`);
    assert.deepEqual(order, ['deliver@50', 'retry@50', 'bill@100']);
    assert.equal(scheduler.nextDue(150), undefined);
    assert.equal(scheduler.nextDue(200)?.ref, 'ntf_2');
  });

  it('lets an API call catch up on state events without taking deliveries', () => {
    const scheduler = new Scheduler();
    scheduler.scheduleDelivery('ntf_1', 10);
    scheduler.schedule('bill', 'sub_a', 20);
    assert.equal(scheduler.nextStateEventDue(30)?.kind, 'bill');
    assert.equal(scheduler.nextStateEventDue(30), undefined);
    assert.equal(scheduler.deliveries.size, 1);
  });
});

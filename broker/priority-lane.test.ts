import mqemitter from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { type QueueingEmitter, giveUrgentMessagesTheFastLane } from './priority-lane.ts';

describe('the fast lane for urgent messages', () => {
  it('puts an alarm ahead of the telemetry waiting for the emitter, and loses none of it', () => {
    const mq = mqemitter({ concurrency: 1 });
    giveUrgentMessagesTheFastLane(mq as unknown as QueueingEmitter);
    const queued = () => (mq as unknown as { length: number }).length;
    const seen: string[] = [];
    const pending: (() => void)[] = [];
    // A subscriber that finishes each delivery only when told: the emitter's one slot stays taken.
    mq.on('cw/v1/#', (message: { topic: string }, done: () => void) => {
      seen.push(message.topic.split('/').at(-1)!);
      pending.push(done);
    });
    const telemetry = { topic: 'cw/v1/c1/gateways/gw-1/telemetry', payload: '{}' };
    let emitted = 0;
    for (let i = 0; i < 3; i++) mq.emit(telemetry, () => emitted++);
    mq.emit({ topic: 'cw/v1/c1/devices/ab-1/alarm', payload: '{}' }, () => emitted++);
    expect(seen).toEqual(['telemetry']);
    expect(queued()).toBe(3);
    while (pending.length > 0) pending.shift()!();
    expect(seen).toEqual(['telemetry', 'alarm', 'telemetry', 'telemetry']);
    expect(emitted).toBe(4);
    expect(queued()).toBe(0);
  });
});

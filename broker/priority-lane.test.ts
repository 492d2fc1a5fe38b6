import mqemitter from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { type QueueingEmitter, giveUrgentMessagesTheFastLane } from './priority-lane.ts';

describe('the fast lane for urgent messages', () => {
  it('delivers an alarm at once while telemetry waits for the emitter, and the telemetry after', () => {
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
    mq.emit(telemetry);
    mq.emit(telemetry);
    mq.emit(telemetry);
    mq.emit({ topic: 'cw/v1/c1/devices/ab-1/alarm', payload: '{}' });
    expect(seen).toEqual(['telemetry', 'alarm']);
    expect(queued()).toBe(2);
    while (pending.length > 0) pending.shift()!();
    expect(seen).toEqual(['telemetry', 'alarm', 'telemetry', 'telemetry']);
    expect(queued()).toBe(0);
  });
});

import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import { testTempDir } from '../test/support/temp.ts';
import { type LocalRedis, startLocalRedis } from './local-redis.ts';
import { type QueueingEmitter, prioritiseInEmitter } from './priority-lane.ts';
import { RedisEmitter } from './redis-emitter.ts';

const require = createRequire(import.meta.url);
type Listening = (message: { topic: string }, done: () => void) => void;
type Emitter = QueueingEmitter & {
  on(topic: string, listener: Listening, ready?: () => void): void;
  close(done: () => void): void;
};
const mqemitter = require('mqemitter') as (options: { concurrency: number }) => Emitter;

const reading = { topic: topics.deviceTelemetry('c1', 'w1'), payload: 'reading' };
const press = { topic: topics.deviceAlarm('c1', 'b1'), payload: 'press' };
const ack = { topic: topics.alertAck('c1', 'a1'), payload: 'ack' };

/**
 * A subscriber that never finishes a delivery (a socket that does not drain) fills the emitter; what it
 * was handed is recorded. `release` finishes them all.
 */
function stuckSubscriber() {
  const handed: string[] = [];
  const pending: (() => void)[] = [];
  const listener: Listening = (message, done) => {
    handed.push(String((message as unknown as { payload: string }).payload));
    pending.push(done);
  };
  const release = () => {
    for (const done of pending.splice(0)) done();
  };
  return { handed, listener, release };
}

describe('the priority lane of the broker emitter', () => {
  it('hands alarm presses and acknowledgements on at once while readings wait their turn', () => {
    const emitter = mqemitter({ concurrency: 2 });
    prioritiseInEmitter(emitter);
    const subscriber = stuckSubscriber();
    emitter.on('cw/v1/#', subscriber.listener);
    for (let i = 0; i < 5; i += 1) emitter.emit(reading);
    expect(subscriber.handed).toEqual(['reading', 'reading']);
    emitter.emit(press);
    emitter.emit(ack);
    emitter.emit(reading);
    expect(subscriber.handed).toEqual(['reading', 'reading', 'press', 'ack']);
    // The queue is untouched: each finished delivery starts the next held reading, in order.
    subscriber.release();
    expect(subscriber.handed.slice(4)).toEqual(['reading', 'reading', 'reading', 'reading']);
    subscriber.release();
    expect(emitter.current).toBe(0);
  });

  it('keeps the count of deliveries true when presses run past the limit and the queue runs dry', () => {
    const emitter = mqemitter({ concurrency: 2 });
    prioritiseInEmitter(emitter);
    const pending: (() => void)[] = [];
    emitter.on('cw/v1/#', (_message, done) => pending.push(done));
    emitter.emit(reading);
    emitter.emit(reading);
    emitter.emit(press);
    expect(pending).toHaveLength(3);
    // One ends with nothing queued, and the press still holds the count at the limit: the next reading
    // waits (mqemitter would have read a stall, started it and counted one delivery too few).
    pending.shift()!();
    emitter.emit(reading);
    expect(pending).toHaveLength(2);
    expect(emitter.current).toBe(2);
    while (pending.length > 0) pending.shift()!();
    expect(emitter.current).toBe(0);
  });

  it('queues nothing it would not have queued: below the limit every message goes straight through', () => {
    const emitter = mqemitter({ concurrency: 10 });
    prioritiseInEmitter(emitter);
    const subscriber = stuckSubscriber();
    emitter.on('cw/v1/#', subscriber.listener);
    emitter.emit(reading);
    emitter.emit(press);
    expect(subscriber.handed).toEqual(['reading', 'press']);
  });

  describe('on a broker cluster (mqemitter-redis)', () => {
    let redis: LocalRedis;
    beforeAll(async () => {
      redis = await startLocalRedis(testTempDir('cw-lane-'), silentLogger);
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('delivers a press that came over Redis ahead of the readings queued on this broker', async () => {
      const emitter = new RedisEmitter({ path: redis.socket }, silentLogger) as unknown as Emitter;
      emitter.concurrency = 1;
      prioritiseInEmitter(emitter);
      const subscriber = stuckSubscriber();
      await new Promise<void>((resolve) => emitter.on('cw/v1/#', subscriber.listener, resolve));
      for (let i = 0; i < 3; i += 1) emitter.emit(reading);
      await waitFor(() => subscriber.handed.length === 1, { what: 'the first reading' });
      emitter.emit(press);
      await waitFor(() => subscriber.handed.length === 2, { what: 'the press' });
      expect(subscriber.handed).toEqual(['reading', 'press']);
      subscriber.release();
      await waitFor(() => subscriber.handed.length === 4, { what: 'the held readings' });
      expect(subscriber.handed).toEqual(['reading', 'press', 'reading', 'reading']);
      subscriber.release();
      await new Promise<void>((resolve) => emitter.close(resolve));
    });
  });
});

import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/net.ts';
import { filters, isPriorityFilter, isPriorityTopic, topics } from '../protocol/topics.ts';
import { type BareAedes, bareAedes } from '../test/support/broker.ts';
import { type LocalEmitter, PriorityLane } from './priority-lane.ts';

const require = createRequire(import.meta.url);
const mqemitter = require('mqemitter') as (options: { concurrency: number }) => LocalEmitter & {
  on(topic: string, listener: (message: { topic: string }, done: () => void) => void): void;
};

const reading = (n: number) => ({ topic: topics.deviceTelemetry('c1', 'w1'), n });
const press = (n: number) => ({ topic: topics.deviceAlarm('c1', 'b1'), n });

describe('priority topics and filters', () => {
  it('tells what people do and the broker holds from everything else', () => {
    expect(isPriorityTopic(topics.deviceAlarm('c1', 'b1'))).toBe(true);
    expect(isPriorityTopic(topics.nap('c1', 'r1'))).toBe(true);
    expect(isPriorityTopic(topics.alertAck('c1', 'a1'))).toBe(true);
    expect(isPriorityTopic(topics.alertResolve('c1', 'a1'))).toBe(true);
    expect(isPriorityTopic(topics.brokerHold('b0'))).toBe(true);
    expect(isPriorityTopic(topics.deviceTelemetry('c1', 'w1'))).toBe(false);
    expect(isPriorityTopic(topics.deviceStatus('c1', 'w1'))).toBe(false);
    expect(isPriorityTopic(topics.alertTransition('c1', 'a1'))).toBe(false);
    expect(isPriorityTopic('not/ours')).toBe(false);
  });

  it('counts a filter in only when everything it can match is a priority topic', () => {
    for (const filter of [
      filters.alarms(),
      filters.alarms('c1'),
      filters.nap(),
      filters.alertAcks(),
      filters.alertResolves('c1'),
      filters.brokerHolds,
    ])
      expect(isPriorityFilter(filter), filter).toBe(true);
    for (const filter of [
      ...filters.telemetry(),
      filters.status(),
      filters.alerts(),
      'cw/v1/#',
      'cw/v1/c1/devices/#',
      'cw/v1/+/+/+/alarm',
      // Matches the alert `cw/v1/c1/alerts/hold` as well as no broker's hold.
      'cw/v1/+/+/hold',
    ])
      expect(isPriorityFilter(filter), filter).toBe(false);
  });
});

/** A lane over a real mqemitter whose one delivery slot is taken by a reading held until released. */
function blockedEmitter() {
  const emitter = mqemitter({ concurrency: 1 });
  const aedes = new EventEmitter();
  new PriorityLane(aedes as unknown as Aedes, emitter);
  const held: (() => void)[] = [];
  emitter.on(filters.telemetry('c1')[0]!, (message, done) => {
    if ((message as unknown as { n: number }).n === 0) held.push(done);
    else done();
  });
  const got = (who: string[]) => (message: { topic: string }, done: () => void) => {
    who.push(
      `${message.topic.endsWith('alarm') ? 'press' : 'reading'} ${(message as unknown as { n: number }).n}`,
    );
    done();
  };
  /** A client as Aedes keeps it: its subscriptions' listeners are the ones it gave the emitter. */
  const client = (...subscriptions: string[]) => {
    const log: string[] = [];
    const listener = got(log);
    const record = Object.fromEntries(subscriptions.map((filter) => [filter, { func: listener }]));
    for (const filter of subscriptions) emitter.on(filter, listener);
    aedes.emit('subscribe', [], { subscriptions: record });
    return log;
  };
  return {
    emitter,
    client,
    release: () => {
      for (const done of held.splice(0)) done();
    },
  };
}

describe('PriorityLane (mqemitter)', () => {
  it('hands a press at once to a priority-only session, and to it only once', () => {
    const { emitter, client, release } = blockedEmitter();
    const priority = client(filters.alarms('c1'), filters.nap('c1'));
    const mixed = client(...filters.telemetry('c1'), filters.alarms('c1'));
    emitter.emit(reading(0));
    emitter.emit(reading(1));
    emitter.emit(press(2));
    emitter.emit(reading(3));
    expect(priority).toEqual(['press 2']);
    expect(mixed).toEqual(['reading 0']);
    release();
    expect(mixed).toEqual(['reading 0', 'reading 1', 'press 2', 'reading 3']);
    expect(priority).toEqual(['press 2']);
  });

  it('leaves a session that subscribes to anything else in the queue', () => {
    const { emitter, client, release } = blockedEmitter();
    const widened = client(filters.alarms('c1'), filters.status('c1'));
    emitter.emit(reading(0));
    emitter.emit(press(1));
    expect(widened).toEqual([]);
    release();
    expect(widened).toEqual(['press 1']);
  });
});

describe('PriorityLane (Aedes, real sockets)', () => {
  let broker: BareAedes;
  /** Deliveries of the blocker, each holding the emitter's one slot until called. */
  const held: (() => void)[] = [];

  beforeAll(async () => {
    broker = await bareAedes({ concurrency: 1 });
    const emitter = (broker.aedes as unknown as { mq: LocalEmitter }).mq;
    new PriorityLane(broker.aedes, emitter);
    const local = emitter as unknown as {
      on(topic: string, listener: (m: unknown, done: () => void) => void): void;
    };
    local.on(topics.deviceTelemetry('c2', 'slow'), (_message, done) => held.push(done));
  });

  afterAll(async () => {
    for (const done of held.splice(0)) done();
    await broker?.close();
  });

  const subscriber = async (clientId: string, subscriptions: string[]) => {
    const client = await mqtt.connectAsync(broker.url, { clientId, clean: false, protocolVersion: 4 });
    const received: string[] = [];
    client.on('message', (_topic, payload) => received.push(payload.toString()));
    await client.subscribeAsync(subscriptions, { qos: 1 });
    return { client, received };
  };
  const publish = (topic: string, payload: string) =>
    broker.aedes.publish(
      { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false } as never,
      () => {},
    );
  /** Takes the one delivery slot with a message nobody else takes: what follows waits in the queue. */
  const block = async () => {
    publish(topics.deviceTelemetry('c2', 'slow'), 'blocker');
    await waitFor(() => held.length === 1, { what: 'the slot taken' });
    return () => {
      for (const done of held.splice(0)) done();
    };
  };

  it('a press overtakes queued readings for the priority session; the mixed session loses none', async () => {
    const priority = await subscriber('rules-priority', [filters.alarms('c1'), filters.nap('c1')]);
    const ingest = await subscriber('ingest', [...filters.telemetry('c1'), filters.alarms('c1')]);
    const release = await block();
    const readings = Array.from({ length: 20 }, (_, i) => `reading ${i}`);
    for (const r of readings.slice(0, 10)) publish(topics.deviceTelemetry('c1', 'w1'), r);
    publish(topics.deviceAlarm('c1', 'b1'), 'press');
    for (const r of readings.slice(10)) publish(topics.deviceTelemetry('c1', 'w1'), r);
    await waitFor(() => priority.received.includes('press'), { what: 'the press, past the queue' });
    expect(ingest.received).toEqual([]);
    release();
    await waitFor(() => ingest.received.length === 21, { what: `ingest's 21 messages` });
    expect(ingest.received).toEqual([...readings.slice(0, 10), 'press', ...readings.slice(10)]);
    expect(priority.received).toEqual(['press']);
    await Promise.all([priority.client.endAsync(), ingest.client.endAsync()]);
  });

  it('acknowledges a press before its run through the queue, so the next press is not held behind it', async () => {
    const priority = await subscriber('rules-priority-2', [filters.alarms('c3')]);
    const ingest = await subscriber('ingest-2', [...filters.telemetry('c3'), filters.alarms('c3')]);
    const button = await mqtt.connectAsync(broker.url, { clientId: 'b3', protocolVersion: 4 });
    const release = await block();
    // Aedes reads a client's next packet only once the previous publish has called back.
    await button.publishAsync(topics.deviceAlarm('c3', 'b3'), 'first press', { qos: 1 });
    await button.publishAsync(topics.deviceAlarm('c3', 'b3'), 'second press', { qos: 1 });
    await waitFor(() => priority.received.length === 2, { what: 'both presses, past the queue' });
    expect(priority.received).toEqual(['first press', 'second press']);
    expect(ingest.received).toEqual([]);
    release();
    await waitFor(() => ingest.received.length === 2, { what: `ingest's two presses` });
    expect(ingest.received).toEqual(['first press', 'second press']);
    await Promise.all([priority.client.endAsync(), ingest.client.endAsync(), button.endAsync()]);
  });
});

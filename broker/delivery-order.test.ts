import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import { type BareAedes, bareAedes } from '../test/support/broker.ts';

/**
 * Why nothing may overtake in the broker's emitter. Aedes drops, as a duplicate, a message that reaches a
 * client after one its broker published later (`dedupe` in aedes/lib/client.js compares per-broker publish
 * counters), and the publisher has its PUBACK by then. Letting alarm presses past the emitter's queue was
 * tried twice: a press overtook the readings queued for ingest (which stores presses too), and every one of
 * them was dropped (bench: 881,471, 626,491 and 374,450 acknowledged readings lost in three runs one day;
 * 113,080, 369,485 and 96,411 in three the next). Priority has to come from separate sessions (the rules'
 * priority session), from how the consumers read, and from a lane only for sessions that take nothing but
 * priority topics (broker/priority-lane.ts), never from reordering one client's deliveries.
 */
describe('delivery order in Aedes', () => {
  let broker: BareAedes;

  beforeAll(async () => {
    broker = await bareAedes();
  });

  afterAll(async () => {
    await broker?.close();
  });

  it('drops a QoS 1 message delivered after one published later, to the same client', async () => {
    const client = await mqtt.connectAsync(broker.url, { clientId: 'ingest-like', clean: false });
    const received: string[] = [];
    client.on('message', (_topic, payload) => received.push(payload.toString()));
    await client.subscribeAsync('cw/v1/#', { qos: 1 });
    const packet = (topic: string, payload: string, brokerCounter: number) => ({
      cmd: 'publish' as const,
      messageId: 0,
      topic,
      payload: Buffer.from(payload),
      qos: 1 as const,
      retain: false,
      dup: false,
      brokerId: broker.aedes.id,
      brokerCounter,
    });
    // What an emitter that let the press overtake would hand on: the press (published second) first. The
    // counters are the ones Aedes would have stamped at publish.
    const publish = (topic: string, payload: string, brokerCounter: number) =>
      new Promise<void>((resolve) =>
        broker.aedes.publish(packet(topic, payload, brokerCounter) as never, () => resolve()),
      );
    await publish(topics.deviceAlarm('c1', 'b1'), 'press', 2);
    await publish(topics.deviceTelemetry('c1', 'w1'), 'reading', 1);
    await publish(topics.deviceTelemetry('c1', 'w1'), 'next reading', 3);
    await waitFor(() => received.includes('next reading'), { what: 'the next reading' });
    expect(received).toEqual(['press', 'next reading']);
    await client.endAsync();
  });
});

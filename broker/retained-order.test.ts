import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { type BareAedes, bareAedes } from '../test/support/broker.ts';
import { testTempDir } from '../test/support/temp.ts';
import { type LocalRedis, startLocalRedis } from './local-redis.ts';
import { redisPersistence } from './redis-persistence.ts';

/**
 * Aedes drops, as a duplicate, a message that reaches a client after one published later. With the Redis
 * persistence a retained message used to wait for its write before it was emitted, and readings published
 * after it overtook it: a subscriber to statuses (retained) and readings got 0-1 of 500 statuses.
 */
describe('retained and plain messages through the Redis persistence', () => {
  let redis: LocalRedis;
  let broker: BareAedes;

  beforeAll(async () => {
    redis = await startLocalRedis(testTempDir('cw-retained-'), silentLogger);
    broker = await bareAedes({
      persistence: redisPersistence({ path: redis.socket }, silentLogger) as never,
    });
  });

  afterAll(async () => {
    await broker?.close();
    await redis?.stop();
  });

  it('reach a subscriber of both in full when they are published interleaved', async () => {
    const rules = await mqtt.connectAsync(broker.url, { clientId: 'rules-like', clean: false });
    const got = { status: 0, telemetry: 0 };
    rules.on('message', (topic) => {
      got[topic.startsWith('status') ? 'status' : 'telemetry'] += 1;
    });
    await rules.subscribeAsync(['status/#', 'telemetry/#'], { qos: 1 });
    // A second persistent session on readings only, as ingest: the two kinds have different subscribers.
    const ingest = await mqtt.connectAsync(broker.url, { clientId: 'ingest-like', clean: false });
    await ingest.subscribeAsync('telemetry/#', { qos: 1 });
    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'publisher' });
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i += 1) {
      sent.push(publisher.publishAsync(`status/${i}`, 'online', { qos: 1, retain: true }));
      sent.push(publisher.publishAsync(`telemetry/${i}`, 'reading', { qos: 1 }));
    }
    await Promise.all(sent);
    await waitFor(() => got.telemetry === 200, { what: 'every reading' });
    await waitFor(() => got.status === 200, { what: 'every status', timeoutMs: 5_000 });
    expect(got).toEqual({ status: 200, telemetry: 200 });
    await Promise.all([rules.endAsync(), ingest.endAsync(), publisher.endAsync()]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import {
  type BrokerProcess,
  SERVICE_USERS,
  type TestFleet,
  collect,
  connect,
  connectCollecting,
  credentials,
  makeTestFleet,
  spawnBroker,
} from '../test/support/broker.ts';
import { type RedisServer, startRedis } from '../test/support/redis.ts';

describe('brokers sharing one Redis', () => {
  let fleet: TestFleet;
  let redis: RedisServer;
  const brokers: BrokerProcess[] = [];
  const startPair = async () => {
    const args = ['--fleet', fleet.fleetFile, '--config', fleet.configFile, '--redis', redis.url];
    const pair = await Promise.all([spawnBroker(args), spawnBroker(args)]);
    brokers.push(...pair);
    return pair;
  };

  beforeAll(async () => {
    fleet = makeTestFleet();
    redis = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
    await redis?.stop();
    fleet?.remove();
  });

  it('carries a device on one broker to a subscriber on the other, and keeps retained status across a restart of both', async () => {
    const [a, b] = await startPair();
    const ingest = await connect(b!.mqtt, credentials(fleet, SERVICE_USERS.ingest));
    const got = collect(ingest);
    await ingest.subscribeAsync('cw/v1/c1/devices/+/telemetry', { qos: 1 });
    const device = fleet.ids.wearable;
    const wearable = await connect(a!.mqtt, credentials(fleet, device));
    // The subscription reaches the other node through Redis pub/sub; retry until it has.
    await waitFor(async () => {
      await wearable.publishAsync(topics.deviceTelemetry('c1', device), 'across', { qos: 1 });
      return got.messages.some((m) => m.payload === 'across');
    });
    expect(got.messages.find((m) => m.payload === 'across')).toMatchObject({ qos: 1 });
    // The broker-made status of the device, retained in Redis.
    const status = topics.deviceStatus('c1', device);
    const peek = async (url: string) => {
      const { client, got: seen } = await connectCollecting(
        url,
        credentials(fleet, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-peek-${Date.now()}`),
      );
      await client.subscribeAsync(status, { qos: 1 });
      await new Promise((r) => setTimeout(r, 150));
      await client.endAsync();
      return seen.messages.map((m) => ({ ...JSON.parse(m.payload), retain: m.retain }));
    };
    await waitFor(async () => (await peek(b!.mqtt)).some((s) => s.state === 'online' && s.retain));
    wearable.end(true);
    await ingest.endAsync();
    await waitFor(async () => (await peek(b!.mqtt)).some((s) => s.state === 'offline' && s.retain));

    const stopped = await Promise.all([a!.stop(), b!.stop()]);
    expect(stopped.map((s) => s.code)).toEqual([0, 0]);
    const [c] = await startPair();
    expect(await peek(c!.mqtt)).toEqual([expect.objectContaining({ state: 'offline', retain: true })]);
  });

  it('delivers a QoS 1 message to a persistent session that went away from one broker and came back on the other', async () => {
    const [a, b] = brokers.slice(-2) as [BrokerProcess, BrokerProcess];
    const options = {
      ...credentials(fleet, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-persistent`),
      clean: false,
    };
    const first = await connect(a.mqtt, options);
    await first.subscribeAsync('cw/v1/c1/devices/+/alarm', { qos: 1 });
    await first.endAsync();
    const alarm = await connect(a.mqtt, credentials(fleet, fleet.ids.alarm));
    await alarm.publishAsync(topics.deviceAlarm('c1', fleet.ids.alarm), 'pressed-while-away', { qos: 1 });
    await alarm.endAsync();
    const back = await connectCollecting(b.mqtt, options);
    expect(back.sessionPresent).toBe(true);
    await back.got.waitFor(1);
    expect(back.got.messages[0]).toMatchObject({ payload: 'pressed-while-away', qos: 1 });
    await back.client.endAsync();
  });

  it('refuses to start, naming the URL, when Redis cannot be reached', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    await expect(spawnBroker(['--fleet', fleet.fleetFile, '--redis', closed])).rejects.toThrow(
      new RegExp(`cannot reach Redis at ${closed}`),
    );
  });
});

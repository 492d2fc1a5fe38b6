import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { filters, topics } from '../protocol/topics.ts';
import { testTempDir } from '../test/support/temp.ts';
import { brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import {
  SERVICE_USERS,
  type TestFleet,
  collect,
  connect,
  connectCollecting,
  credentials,
  makeTestFleet,
} from '../test/support/broker.ts';

/** SUBSCRIBE on a broker whose sessions live in its private redis-server (`dataDir`), with mqtt.js. */
describe('persistent sessions on the Redis store', () => {
  let fleet: TestFleet;
  let broker: RunningBroker;
  const opened: MqttClient[] = [];
  const login = async (username: string, clientId: string) => {
    const client = await connect(broker.mqttUrl, { ...credentials(fleet, username, clientId), clean: false });
    opened.push(client);
    return client;
  };

  beforeAll(async () => {
    fleet = makeTestFleet();
    const config = brokerConfigSchema.parse({
      port: 0,
      accounts: fleet.accounts,
      dataDir: testTempDir('cw-broker-store-'),
    });
    broker = await startBroker(config, silentLogger, { fleet: fleet.fleet });
  });

  afterAll(async () => {
    for (const client of opened) client.end(true);
    await broker?.close();
    fleet?.remove();
  });

  it('answers one SUBSCRIBE of several filters from a persistent session, new and resumed', async () => {
    const id = `${SERVICE_USERS.rules}-multi`;
    const wanted = [...filters.telemetry('c1'), filters.alarms('c1')];
    const first = await login(SERVICE_USERS.rules, id);
    const granted = await first.subscribeAsync(wanted, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1]);
    await first.endAsync();

    const back = await login(SERVICE_USERS.rules, id);
    const again = await back.subscribeAsync(wanted, { qos: 1 });
    expect(again.map((g) => g.qos)).toEqual([1, 1, 1]);
    const got = collect(back);
    const device = fleet.ids.wearable;
    const wearable = await connect(broker.mqttUrl, credentials(fleet, device));
    opened.push(wearable);
    await wearable.publishAsync(topics.deviceTelemetry('c1', device), 'reading', { qos: 1 });
    await got.waitFor(1);
    expect(got.messages[0]).toMatchObject({ payload: 'reading', qos: 1 });
  });

  it('answers the same filter subscribed, then unsubscribed, twice at once (two packets in flight)', async () => {
    const client = await login(SERVICE_USERS.rules, `${SERVICE_USERS.rules}-twice`);
    const filter = filters.alarms('c1');
    const answers = await Promise.all([
      client.subscribeAsync(filter, { qos: 1 }),
      client.subscribeAsync(filter, { qos: 1 }),
    ]);
    expect(answers.flat().map((g) => g.qos)).toEqual([1, 1]);
    // Each UNSUBACK, too.
    await Promise.all([client.unsubscribeAsync(filter), client.unsubscribeAsync(filter)]);
  });

  it('keeps the subscriptions of a multi-filter SUBSCRIBE in the session across a reconnect', async () => {
    const id = `${SERVICE_USERS.ingest}-kept`;
    const first = await login(SERVICE_USERS.ingest, id);
    await first.subscribeAsync(filters.telemetry('c1'), { qos: 1 });
    await first.endAsync();
    const device = fleet.ids.wearable;
    const wearable = await connect(broker.mqttUrl, credentials(fleet, device));
    opened.push(wearable);
    await wearable.publishAsync(topics.deviceTelemetry('c1', device), 'while away', { qos: 1 });
    const back = await connectCollecting(broker.mqttUrl, {
      ...credentials(fleet, SERVICE_USERS.ingest, id),
      clean: false,
    });
    opened.push(back.client);
    expect(back.sessionPresent).toBe(true);
    await back.got.waitFor(1);
    expect(back.got.messages[0]).toMatchObject({ payload: 'while away', qos: 1 });
  });

  it("replays a QoS 1 message queued for two sessions under the returning connection's own packet identifier", async () => {
    // The broker's own persistence on its redis-server: the identifier's collision needs exact timing over MQTT.
    const { persistence } = broker.aedes as unknown as {
      persistence: {
        outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void>;
        outgoingUpdate(client: { id: string }, packet: object): Promise<void>;
        outgoingStream(client: { id: string }): AsyncIterable<{ messageId?: number; payload: Buffer }>;
      };
    };
    const packet = {
      ...{ cmd: 'publish', topic: topics.deviceTelemetry('c1', fleet.ids.wearable), qos: 1 },
      ...{ payload: Buffer.from('shared'), retain: false, dup: false },
      ...{ brokerId: broker.aedes.id, brokerCounter: 900_001 },
    };
    await persistence.outgoingEnqueueCombi([{ clientId: 'shared-a' }, { clientId: 'shared-b' }], packet);
    // Delivered to the session that stayed, under its identifier 7: the package stores that in the shared entry.
    await persistence.outgoingUpdate({ id: 'shared-a' }, { ...packet, messageId: 7 });
    const replayed = [];
    for await (const queued of persistence.outgoingStream({ id: 'shared-b' })) replayed.push(queued);
    expect(replayed.map((p) => p.payload.toString())).toEqual(['shared']);
    // Aedes gives it the returning connection's next identifier; 7 could be one in flight there.
    expect(replayed[0]!.messageId).toBeUndefined();
  });
});

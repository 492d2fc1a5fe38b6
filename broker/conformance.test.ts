import type { MqttClient } from 'mqtt';
import { generate } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import { brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import {
  SERVICE_USERS,
  type TestFleet,
  collect,
  connackCode,
  connect,
  connectCollecting,
  connectPacket,
  credentials,
  makeTestFleet,
  rawClient,
} from '../test/support/broker.ts';

/**
 * The MQTT 3.1.1 normative statements a broker owns, checked on the wire against our broker (authentication
 * and ACL on), so a change in Aedes or in our hooks that breaks one shows up here.
 */
describe('MQTT 3.1.1 conformance of the cradlewatch broker', () => {
  let fleet: TestFleet;
  let broker: RunningBroker;
  const opened: MqttClient[] = [];
  const login = async (username: string, extra: Parameters<typeof connect>[1] = {}) => {
    const client = await connect(broker.mqttUrl, { ...credentials(fleet, username), ...extra });
    opened.push(client);
    return client;
  };
  const rawLogin = async (username: string, fields: Record<string, unknown> = {}) => {
    const raw = await rawClient(broker.mqttUrl);
    raw.send(
      connectPacket({
        clientId: username,
        username,
        password: Buffer.from(fleet.passwords[username]!),
        ...fields,
      }),
    );
    return raw;
  };

  beforeAll(async () => {
    fleet = makeTestFleet();
    const config = brokerConfigSchema.parse({ port: 0, accounts: fleet.accounts });
    broker = await startBroker(config, silentLogger, { fleet: fleet.fleet });
  });

  afterAll(async () => {
    for (const client of opened) client.end(true);
    await broker?.close();
    fleet?.remove();
  });

  it('[MQTT-3.1.3-8] answers a zero-length client id with CleanSession 0 with CONNACK 2 and closes', async () => {
    // mqtt.js and mosquitto_pub refuse to send this CONNECT and mqtt-packet to build it, so it is written with CleanSession 1 and the flag cleared.
    const { username, password } = credentials(fleet, fleet.ids.wearable);
    const bytes = generate(
      connectPacket({ clientId: '', clean: true, username, password: Buffer.from(password!) }),
    );
    const flags = 2 + 6 + 1; // fixed header (short packet), protocol name, level
    bytes[flags] = bytes[flags]! & ~0x02;
    const raw = await rawClient(broker.mqttUrl);
    raw.sendBytes(bytes);
    expect(await raw.waitFor('connack')).toMatchObject({ returnCode: 2 });
    expect(await raw.closedWithin(2_000)).toBe(true);
  });

  it('[MQTT-3.1.3-6] [MQTT-3.1.3-7] accepts a zero-length client id with CleanSession 1 from an account', async () => {
    const raw = await rawLogin(SERVICE_USERS.caregiver, { clientId: '', clean: true });
    expect(await raw.waitFor('connack')).toMatchObject({ returnCode: 0, sessionPresent: false });
    raw.socket.destroy();
  });

  it('refuses a zero-length client id from a device (its status is bound to its id) with CONNACK 2', async () => {
    const raw = await rawLogin(fleet.ids.wearable, { clientId: '', clean: true });
    expect(await raw.waitFor('connack')).toMatchObject({ returnCode: 2 });
    expect(await raw.closedWithin(2_000)).toBe(true);
  });

  it('[MQTT-3.1.0-1] closes a connection whose first packet is not CONNECT', async () => {
    const raw = await rawClient(broker.mqttUrl);
    raw.send({ cmd: 'pingreq' });
    expect(await raw.closedWithin(2_000)).toBe(true);
    expect(raw.received).toEqual([]);
  });

  it('[MQTT-3.1.0-2] closes a connection that sends a second CONNECT', async () => {
    const raw = await rawLogin(fleet.ids.wearable);
    expect(await raw.waitFor('connack')).toMatchObject({ returnCode: 0 });
    raw.send(connectPacket({ clientId: fleet.ids.wearable }));
    expect(await raw.closedWithin(2_000)).toBe(true);
  });

  it('[MQTT-3.1.2-2] answers an unsupported protocol level with CONNACK 1', async () => {
    const raw = await rawClient(broker.mqttUrl);
    // An MQTT 5 client (level 5, empty properties, client id "x") meeting a 3.1.1 broker.
    const body = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 30, 0, 0, 1, 0x78]);
    raw.sendBytes(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    expect(await raw.closedWithin(2_000)).toBe(true);
    expect(raw.received.find((p) => p.cmd === 'connack') ?? { returnCode: 'none' }).toMatchObject({
      returnCode: 1,
    });
  });

  it('refuses bad credentials with CONNACK 4 and a missing password with CONNACK 4, never crashing', async () => {
    const device = fleet.ids.wearable;
    expect(await connackCode(broker.mqttUrl, { clientId: device, username: device, password: 'nope' })).toBe(
      4,
    );
    expect(await connackCode(broker.mqttUrl, { clientId: device, username: device })).toBe(4);
    expect(await connackCode(broker.mqttUrl, { clientId: device })).toBe(4);
    expect(broker.aedes.closed).toBe(false);
  });

  it('[MQTT-3.1.4-2] disconnects the existing client when the same client id connects again', async () => {
    const first = await login(fleet.ids.roomSensor);
    const closed = new Promise<void>((r) => first.once('close', () => r()));
    await login(fleet.ids.roomSensor);
    await closed;
  });

  it('[MQTT-3.1.2-8] [MQTT-3.1.2-17] publishes a retained will on loss, with ts refreshed at the moment of loss', async () => {
    const device = fleet.ids.wearable2;
    const status = topics.deviceStatus('c2', device);
    const staleTs = Date.now() - 3_600_000;
    const raw = await rawLogin(device, {
      will: {
        topic: status,
        payload: Buffer.from(JSON.stringify({ v: 1, ts: staleTs, state: 'offline' })),
        qos: 1,
        retain: true,
      },
    });
    await raw.waitFor('connack');
    const lostAt = Date.now();
    raw.socket.destroy();
    const watcher = await login(SERVICE_USERS.rules);
    const got = collect(watcher);
    await waitFor(async () => {
      got.messages.length = 0;
      await watcher.subscribeAsync(status, { qos: 1 });
      await new Promise((r) => setTimeout(r, 50));
      await watcher.unsubscribeAsync(status);
      return got.messages.some((m) => JSON.parse(m.payload).state === 'offline');
    });
    const will = got.messages.find((m) => JSON.parse(m.payload).state === 'offline')!;
    expect(will.retain).toBe(true);
    expect(JSON.parse(will.payload).ts).toBeGreaterThanOrEqual(lostAt);
  });

  it('[MQTT-3.1.2-10] [MQTT-3.14.4-3] discards the will on DISCONNECT', async () => {
    const watcher = await login(SERVICE_USERS.rules);
    const got = collect(watcher);
    await watcher.subscribeAsync('cw/v1/c1/devices/+/telemetry', { qos: 1 });
    const device = fleet.ids.roomSensor;
    const client = await login(device, {
      will: {
        topic: topics.deviceTelemetry('c1', device),
        payload: Buffer.from('WILL'),
        qos: 1,
        retain: false,
      },
    });
    await client.endAsync();
    const other = await login(fleet.ids.alarm);
    await other.publishAsync(topics.deviceAlarm('c1', fleet.ids.alarm), 'marker', { qos: 1 });
    await watcher.subscribeAsync('cw/v1/c1/devices/+/alarm', { qos: 1 });
    await other.publishAsync(topics.deviceAlarm('c1', fleet.ids.alarm), 'marker', { qos: 1 });
    await got.waitFor(1);
    expect(got.messages.map((m) => m.payload)).not.toContain('WILL');
  });

  it('does not publish a will on a topic the device may not publish to', async () => {
    const watcher = await login(SERVICE_USERS.rules);
    const got = collect(watcher);
    await watcher.subscribeAsync('cw/v1/+/devices/+/+', { qos: 1 });
    const device = fleet.ids.wearable;
    const raw = await rawLogin(device, {
      will: {
        topic: topics.deviceAlarm('c1', fleet.ids.alarm),
        payload: Buffer.from('FAKE-ALARM'),
        qos: 1,
        retain: false,
      },
    });
    await raw.waitFor('connack');
    raw.socket.destroy();
    const alarm = await login(fleet.ids.alarm);
    await alarm.publishAsync(topics.deviceAlarm('c1', fleet.ids.alarm), 'real', { qos: 1 });
    await waitFor(() => got.messages.some((m) => m.payload === 'real'));
    expect(got.messages.map((m) => m.payload)).not.toContain('FAKE-ALARM');
  });

  it('[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-9] keeps the last retained message for new subscribers only', async () => {
    const carer = await login(SERVICE_USERS.caregiver);
    const nap = topics.nap('c1', fleet.ids.room);
    const early = await login(SERVICE_USERS.supervisor);
    const live = collect(early);
    await early.subscribeAsync(nap, { qos: 1 });
    await carer.publishAsync(nap, 'first', { qos: 1, retain: true });
    await carer.publishAsync(nap, 'second', { qos: 1, retain: true });
    await live.waitFor(2);
    // To an established subscription the RETAIN flag is 0.
    expect(live.messages.map((m) => [m.payload, m.retain])).toEqual([
      ['first', false],
      ['second', false],
    ]);
    const late = await login(SERVICE_USERS.rules);
    const got = collect(late);
    await late.subscribeAsync(nap, { qos: 1 });
    await got.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(got.messages).toEqual([{ topic: nap, payload: 'second', qos: 1, retain: true }]);
  });

  it('[MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.3.1-12] an empty retained message clears the topic and is not stored', async () => {
    const rules = await login(SERVICE_USERS.rules);
    const alert = topics.alert('c1', 'a-clear');
    await rules.publishAsync(alert, '{"state":"raised"}', { qos: 1, retain: true });
    const carer = await login(SERVICE_USERS.caregiver);
    const live = collect(carer);
    await carer.subscribeAsync(alert, { qos: 1 });
    await live.waitFor(1);
    await rules.publishAsync(alert, '', { qos: 1, retain: true });
    await live.waitFor(2);
    expect(live.messages[1]).toMatchObject({ payload: '', retain: false });
    const late = await login(SERVICE_USERS.supervisor);
    const got = collect(late);
    await late.subscribeAsync(alert, { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(got.messages).toEqual([]);
    // A non-retained publish neither stores nor replaces: the next subscriber still sees the retained one.
    await rules.publishAsync(alert, 'kept', { qos: 1, retain: true });
    await rules.publishAsync(alert, 'passing', { qos: 1, retain: false });
    const later = await login(SERVICE_USERS.ingest);
    const got2 = collect(later);
    await later.subscribeAsync(alert, { qos: 1 });
    await got2.waitFor(1);
    expect(got2.messages.map((m) => m.payload)).toEqual(['kept']);
  });

  it('[MQTT-3.8.4-6] delivers at the lower of the published QoS and the granted QoS', async () => {
    const ingest = await login(SERVICE_USERS.ingest);
    const got = collect(ingest);
    const device = fleet.ids.wearable;
    const telemetry = topics.deviceTelemetry('c1', device);
    const granted = await ingest.subscribeAsync(telemetry, { qos: 0 });
    expect(granted[0]?.qos).toBe(0);
    const rules = await login(SERVICE_USERS.rules);
    const got1 = collect(rules);
    await rules.subscribeAsync(telemetry, { qos: 1 });
    const pub = await login(device);
    await pub.publishAsync(telemetry, 'q1', { qos: 1 });
    await pub.publishAsync(telemetry, 'q0', { qos: 0 });
    await got.waitFor(2);
    await got1.waitFor(2);
    expect(got.messages.map((m) => [m.payload, m.qos])).toEqual([
      ['q1', 0],
      ['q0', 0],
    ]);
    expect(got1.messages.map((m) => [m.payload, m.qos])).toEqual([
      ['q1', 1],
      ['q0', 0],
    ]);
  });

  it('[MQTT-3.9.3-1] [MQTT-3.9.3-2] answers each filter in order, 0x80 for refused ones, and keeps the connection', async () => {
    const raw = await rawLogin(fleet.ids.wearable);
    await raw.waitFor('connack');
    raw.send({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [
        { topic: 'cw/v1/c1/devices/+/telemetry', qos: 1 },
        { topic: '#', qos: 0 },
      ],
    });
    // A device subscribes to nothing.
    expect(await raw.waitFor('suback')).toMatchObject({ messageId: 3, granted: [0x80, 0x80] });
    const ingest = await rawLogin(SERVICE_USERS.ingest);
    await ingest.waitFor('connack');
    ingest.send({
      cmd: 'subscribe',
      messageId: 4,
      subscriptions: [
        { topic: 'cw/v1/c1/devices/+/telemetry', qos: 2 },
        { topic: 'cw/v1/deadletter/#', qos: 0 },
        { topic: 'cw/v1/+/alerts/+', qos: 1 },
      ],
    });
    expect(await ingest.waitFor('suback')).toMatchObject({ messageId: 4, granted: [2, 0x80, 1] });
    expect(await raw.closedWithin(100)).toBe(false);
    raw.socket.destroy();
    ingest.socket.destroy();
  });

  it('[MQTT-3.3.2-2] [MQTT-4.7.3-1] closes a connection that publishes to a topic name with wildcards or none', async () => {
    for (const topic of ['cw/v1/c1/devices/+/telemetry', 'cw/v1/c1/devices/#', '']) {
      const raw = await rawLogin(fleet.ids.wearable);
      await raw.waitFor('connack');
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      expect(await raw.closedWithin(2_000)).toBe(true);
    }
  });

  it('[MQTT-3.1.2-24] closes a connection silent for 1.5 times its keep-alive', async () => {
    const raw = await rawLogin(fleet.ids.wearable, { keepalive: 1 });
    await raw.waitFor('connack');
    const started = Date.now();
    expect(await raw.closedWithin(4_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('[MQTT-3.12.4-1] answers PINGREQ with PINGRESP', async () => {
    const raw = await rawLogin(fleet.ids.wearable);
    await raw.waitFor('connack');
    raw.send({ cmd: 'pingreq' });
    await raw.waitFor('pingresp');
    raw.socket.destroy();
  });

  it('refuses a remaining length longer than four bytes as malformed', async () => {
    const raw = await rawLogin(fleet.ids.wearable);
    await raw.waitFor('connack');
    raw.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(await raw.closedWithin(2_000)).toBe(true);
  });

  it('[MQTT-3.1.2-4] [MQTT-3.2.2-2] [MQTT-4.3.2-1] keeps a QoS 1 message for an offline persistent session and delivers it on return', async () => {
    const options = {
      ...credentials(fleet, SERVICE_USERS.ingest, `${SERVICE_USERS.ingest}-persistent`),
      clean: false,
    };
    const first = await connect(broker.mqttUrl, options);
    await first.subscribeAsync('cw/v1/c1/devices/+/alarm', { qos: 1 });
    await first.endAsync();
    const alarm = await login(fleet.ids.alarm);
    await alarm.publishAsync(topics.deviceAlarm('c1', fleet.ids.alarm), 'while-away', { qos: 1 });
    const returned = await connectCollecting(broker.mqttUrl, options);
    opened.push(returned.client);
    expect(returned.sessionPresent).toBe(true);
    await returned.got.waitFor(1);
    expect(returned.got.messages[0]).toMatchObject({ payload: 'while-away', qos: 1 });
  });

  it('[MQTT-3.1.2-6] [MQTT-3.2.2-1] a clean session starts empty and is not kept', async () => {
    const options = {
      ...credentials(fleet, SERVICE_USERS.ingest, `${SERVICE_USERS.ingest}-clean`),
      clean: true,
    };
    const first = await connect(broker.mqttUrl, options);
    await first.subscribeAsync('cw/v1/c1/devices/+/alarm', { qos: 1 });
    await first.endAsync();
    const alarm = await login(fleet.ids.alarm);
    await alarm.publishAsync(topics.deviceAlarm('c1', fleet.ids.alarm), 'lost-on-clean', { qos: 1 });
    const returned = await connectCollecting(broker.mqttUrl, { ...options, clean: false });
    opened.push(returned.client);
    expect(returned.sessionPresent).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(returned.got.messages).toEqual([]);
  });

  it('[MQTT-4.7.2-1] does not match $-topics with # or +', async () => {
    const anonymous = await startBroker(
      brokerConfigSchema.parse({ port: 0, allowAnonymous: true }),
      silentLogger,
    );
    try {
      let sysPublished = 0;
      anonymous.aedes.on('publish', (packet) => {
        if (packet.topic.startsWith('$SYS/')) sysPublished += 1;
      });
      const all = await connect(anonymous.mqttUrl, { clientId: 'everything' });
      const got = collect(all);
      await all.subscribeAsync({ '#': { qos: 0 }, '+/#': { qos: 0 } });
      // Aedes announces every new client on $SYS/{brokerId}/new/clients.
      const newcomer = await connect(anonymous.mqttUrl, { clientId: 'newcomer' });
      await newcomer.publishAsync('plain/topic', 'x', { qos: 1 });
      await waitFor(() => got.messages.some((m) => m.topic === 'plain/topic'));
      expect(sysPublished).toBeGreaterThan(0);
      expect(got.messages.filter((m) => m.topic.startsWith('$'))).toEqual([]);
      await newcomer.endAsync();
      await all.endAsync();
    } finally {
      await anonymous.close();
    }
  });

  it('[MQTT-3.2.0-1] sends a resumed session its CONNACK first, even when a message matches it before then', async () => {
    const username = SERVICE_USERS.rules;
    const clientId = `${username}-resume`;
    const telemetry = topics.deviceTelemetry('c1', fleet.ids.wearable);
    const first = await rawLogin(username, { clientId, clean: false });
    expect(await first.connack()).toBe(0);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: telemetry, qos: 1 }] });
    await first.waitFor('suback');
    first.send({ cmd: 'disconnect' });
    await first.closed;

    // Aedes restores the session's subscriptions, then stores the will, then writes the CONNACK. A reading
    // published while the will is stored (made slow here, as a loaded Redis makes it) matches the restored
    // subscription in that gap: it is what gave a resuming service a PUBLISH before its CONNACK.
    const persistence = (broker.aedes as unknown as { persistence: unknown }).persistence as {
      delWill(c: { id: string }): Promise<unknown>;
    };
    const delWill = persistence.delWill.bind(persistence);
    persistence.delWill = async (client) => {
      if (client.id === clientId) {
        const reading = {
          cmd: 'publish',
          topic: telemetry,
          payload: Buffer.from('{}'),
          qos: 1,
          retain: false,
          dup: false,
        } as const;
        // Not awaited: the publish completes only once this client has taken it, after its CONNACK.
        broker.aedes.publish(reading, () => {});
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return delWill(client);
    };
    try {
      const resumed = await rawLogin(username, { clientId, clean: false });
      await resumed.waitFor('publish');
      expect(resumed.received.map((p) => p.cmd).slice(0, 2)).toEqual(['connack', 'publish']);
      expect(resumed.received[0]).toMatchObject({ returnCode: 0, sessionPresent: true });
      resumed.socket.destroy();
    } finally {
      persistence.delWill = delWill;
    }
  });
});

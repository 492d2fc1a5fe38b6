import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import { brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import {
  SERVICE_USERS,
  type TestFleet,
  connect,
  connectCollecting,
  credentials,
  makeTestFleet,
  rawClient,
  connectPacket,
} from '../test/support/broker.ts';

/** Device status as docs/design.md promises it: retained, online from connect, offline from the moment of loss. */
describe('device status from the broker', () => {
  let fleet: TestFleet;
  let broker: RunningBroker;
  const opened: MqttClient[] = [];

  beforeAll(async () => {
    fleet = makeTestFleet();
    broker = await startBroker(
      brokerConfigSchema.parse({ port: 0, accounts: fleet.accounts }),
      silentLogger,
      {
        fleet: fleet.fleet,
      },
    );
  });

  afterAll(async () => {
    for (const client of opened) client.end(true);
    await broker?.close();
    fleet?.remove();
  });

  /** The retained status a fresh subscriber gets now. */
  async function retainedStatus(device: string): Promise<{ state: string; ts: number } | undefined> {
    const { client, got } = await connectCollecting(
      broker.mqttUrl,
      credentials(fleet, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-peek-${Math.random()}`),
    );
    await client.subscribeAsync(topics.deviceStatus('c1', device), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    await client.endAsync();
    const last = got.messages.at(-1);
    return last ? (JSON.parse(last.payload) as { state: string; ts: number }) : undefined;
  }

  it('publishes a retained online status for a device that set no will, and offline on loss', async () => {
    const device = fleet.ids.roomSensor;
    const before = Date.now();
    const raw = await rawClient(broker.mqttUrl);
    raw.send(
      connectPacket({ clientId: device, username: device, password: Buffer.from(fleet.passwords[device]!) }),
    );
    await raw.waitFor('connack');
    await waitFor(async () => (await retainedStatus(device))?.state === 'online');
    const lostAt = Date.now();
    raw.socket.destroy();
    await waitFor(async () => (await retainedStatus(device))?.state === 'offline');
    const status = (await retainedStatus(device))!;
    expect(status.ts).toBeGreaterThanOrEqual(lostAt);
    expect(status.ts).toBeGreaterThan(before);
  });

  it('announces offline when a device without a will disconnects cleanly', async () => {
    const device = fleet.ids.alarm;
    const client = await connect(broker.mqttUrl, credentials(fleet, device));
    await waitFor(async () => (await retainedStatus(device))?.state === 'online');
    await client.endAsync();
    await waitFor(async () => (await retainedStatus(device))?.state === 'offline');
  });

  it('keeps a device online when its new connection takes over the old one', async () => {
    const device = fleet.ids.wearable;
    const first = await connect(broker.mqttUrl, credentials(fleet, device));
    await waitFor(async () => (await retainedStatus(device))?.state === 'online');
    const second = await connect(broker.mqttUrl, credentials(fleet, device));
    opened.push(second);
    first.end(true);
    await new Promise((r) => setTimeout(r, 300));
    expect((await retainedStatus(device))?.state).toBe('online');
  });

  /** A device connection with a will of its own, dropped without DISCONNECT. */
  async function withWillThenLost(device: string, will: { topic: string; payload: string }) {
    const raw = await rawClient(broker.mqttUrl);
    raw.send(
      connectPacket({
        clientId: device,
        username: device,
        password: Buffer.from(fleet.passwords[device]!),
        will: { ...will, payload: Buffer.from(will.payload), qos: 1, retain: true },
      }),
    );
    expect(await raw.waitFor('connack')).toMatchObject({ returnCode: 0 });
    return raw;
  }

  it("keeps the fields of a device's own status will (fw, battery), with state offline and ts at the loss", async () => {
    const device = fleet.ids.roomSensor;
    const raw = await withWillThenLost(device, {
      topic: topics.deviceStatus('c1', device),
      payload: JSON.stringify({ v: 1, ts: 1_800_000_000_000, state: 'offline', fw: '2.4.1', battery: 71 }),
    });
    const lostAt = Date.now();
    raw.socket.destroy();
    await waitFor(async () => ((await retainedStatus(device))?.ts ?? 0) >= lostAt);
    expect(await retainedStatus(device)).toMatchObject({ v: 1, state: 'offline', fw: '2.4.1', battery: 71 });
  });

  it("publishes the device's own offline status when its will names another device's topic, and drops that will", async () => {
    const device = fleet.ids.alarm;
    const victim = fleet.ids.wearable;
    const victimStatus = topics.deviceStatus('c1', victim);
    const { client: watcher, got } = await connectCollecting(
      broker.mqttUrl,
      credentials(fleet, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-watch`),
    );
    opened.push(watcher);
    await watcher.subscribeAsync(victimStatus, { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const victimBefore = got.messages.length;
    const raw = await withWillThenLost(device, {
      topic: victimStatus,
      payload: JSON.stringify({ v: 1, ts: Date.now(), state: 'offline', fw: 'FORGED' }),
    });
    await waitFor(async () => (await retainedStatus(device))?.state === 'online');
    const lostAt = Date.now();
    raw.socket.destroy();
    await waitFor(async () => {
      const status = await retainedStatus(device);
      return status?.state === 'offline' && status.ts >= lostAt;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(got.messages.slice(victimBefore).filter((m) => m.payload.includes('FORGED'))).toHaveLength(0);
    expect((await broker.stats()).aclRefusals).toBeGreaterThanOrEqual(1);
  });

  it('announces offline beside a will on another topic of the device itself', async () => {
    const device = fleet.ids.alarm;
    const alarmTopic = topics.deviceAlarm('c1', device);
    const { client: watcher, got } = await connectCollecting(
      broker.mqttUrl,
      credentials(fleet, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-alarms`),
    );
    opened.push(watcher);
    await watcher.subscribeAsync(alarmTopic, { qos: 1 });
    const raw = await withWillThenLost(device, { topic: alarmTopic, payload: 'lost-link' });
    await waitFor(async () => (await retainedStatus(device))?.state === 'online');
    const lostAt = Date.now();
    raw.socket.destroy();
    await got.waitFor(1);
    expect(got.messages.map((m) => m.payload)).toContain('lost-link');
    await waitFor(async () => {
      const status = await retainedStatus(device);
      return status?.state === 'offline' && status.ts >= lostAt;
    });
  });
});

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
} from './test-support.ts';

/** Device status as DESIGN.md promises it: retained, online from connect, offline from the moment of loss. */
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
});

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { topics } from '../protocol/topics.ts';
import { brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import {
  SERVICE_USERS,
  type TestFleet,
  collect,
  connackCode,
  connect,
  credentials,
  makeTestFleet,
} from '../test/support/broker.ts';

async function sample(broker: RunningBroker, qos: string): Promise<number> {
  return (await broker.metrics.messagesOut.get()).values.find((v) => v.labels.qos === qos)?.value ?? 0;
}

describe('listeners and connection limits', () => {
  let fleet: TestFleet;
  let broker: RunningBroker;

  beforeAll(async () => {
    fleet = makeTestFleet();
    const cert = join(fleet.dir, 'cert.pem');
    const key = join(fleet.dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      {
        stdio: 'ignore',
      },
    );
    const config = brokerConfigSchema.parse({
      port: 0,
      tlsPort: 0,
      wsPort: 0,
      tls: { cert, key },
      accounts: fleet.accounts,
      limits: { maxConnections: 3, authFailuresBeforeDelay: 2, authFailureDelayMs: 400 },
    });
    broker = await startBroker(config, silentLogger, { fleet: fleet.fleet });
  });

  afterAll(async () => {
    await broker?.close();
    fleet?.remove();
  });

  it('carries a device over TLS to a subscriber over WebSocket at /mqtt', async () => {
    expect(broker.tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(broker.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const ingest = await connect(broker.wsUrl!, credentials(fleet, SERVICE_USERS.ingest));
    const got = collect(ingest);
    await ingest.subscribeAsync('cw/v1/c1/devices/+/telemetry', { qos: 1 });
    const device = fleet.ids.wearable;
    const wearable = await connect(broker.tlsUrl!, {
      ...credentials(fleet, device),
      rejectUnauthorized: false,
    });
    const outBefore = await sample(broker, '1');
    await wearable.publishAsync(topics.deviceTelemetry('c1', device), 'over-tls', { qos: 1 });
    await got.waitFor(1);
    expect(got.messages[0]).toMatchObject({ payload: 'over-tls', qos: 1 });
    // One delivery, counted once, over the WebSocket path as over TCP.
    expect((await sample(broker, '1')) - outBefore).toBe(1);
    await Promise.all([wearable.endAsync(), ingest.endAsync()]);
  });

  it('refuses connections past the maximum with CONNACK 3 and counts them', async () => {
    const clients = await Promise.all(
      [fleet.ids.wearable, fleet.ids.roomSensor, fleet.ids.alarm].map((id) =>
        connect(broker.mqttUrl, credentials(fleet, id)),
      ),
    );
    expect(await connackCode(broker.mqttUrl, credentials(fleet, SERVICE_USERS.rules))).toBe(3);
    expect((await broker.metrics.limitDisconnects.get()).values).toContainEqual(
      expect.objectContaining({ labels: { limit: 'connections' }, value: 1 }),
    );
    await Promise.all(clients.map((c) => c.endAsync()));
  });
});

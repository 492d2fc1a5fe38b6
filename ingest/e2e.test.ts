import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { sampleSum } from '../lib/ops/index.ts';
import { topics } from '../protocol/topics.ts';
import { countPoints, freshInflux } from '../test/support/influx.ts';
import { promtoolCheck } from '../test/support/promtool.ts';
import { influxRows } from '../lib/influx/query.ts';
import { type Ingest, startIngest } from './service.ts';
import {
  BLE_WEARABLES,
  CENTER,
  OTHER_CENTER,
  WEARABLES,
  deviceTopic,
  gatewayTopic,
  publisher,
  roomReading,
  testConfig,
  testFleetIndex,
  wearable,
} from '../test/support/ingest.ts';
import { type RunningMosquitto, startMosquitto } from '../test/support/mosquitto.ts';

interface Broker {
  url: string;
  stop(): Promise<void>;
}

/** Publishes single readings, device batches of 10 and gateway batches; returns how many readings went out. */
async function publishMix(pub: MqttClient, rounds: number): Promise<{ wearable: number; room: number }> {
  let wearables = 0;
  let rooms = 0;
  for (let r = 0; r < rounds; r++) {
    for (const device of WEARABLES) {
      await pub.publishAsync(deviceTopic(device), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
      wearables++;
    }
    const batch = Array.from({ length: 10 }, () => wearable());
    await pub.publishAsync(deviceTopic('w1'), JSON.stringify({ v: 1, batch }), { qos: 1 });
    wearables += 10;
    const gateway = BLE_WEARABLES.flatMap((device) => [wearable({ device }), wearable({ device })]);
    await pub.publishAsync(gatewayTopic('g1'), JSON.stringify({ v: 1, batch: gateway }), { qos: 1 });
    wearables += gateway.length;
    await pub.publishAsync(deviceTopic('s1'), JSON.stringify({ v: 1, ...roomReading() }), { qos: 1 });
    rooms++;
  }
  return { wearable: wearables, room: rooms };
}

function endToEnd(name: string, startBroker: () => Promise<Broker>) {
  describe(`end to end through ${name}`, () => {
    let broker: Broker;
    let influx: InfluxConnection;
    let ingest: Ingest;
    let pub: MqttClient;

    beforeAll(async () => {
      broker = await startBroker();
      influx = await freshInflux();
      ingest = await startIngest(testConfig(influx, broker.url, { metricsIntervalMs: 200 }), silentLogger, {
        fleet: testFleetIndex(),
      });
      await waitFor(() => ingest.stats().received >= 0 && ingest.centers().length > 0);
      pub = await publisher(broker.url);
      // The subscription is in place once a probe reading arrives.
      await waitFor(
        async () => {
          await pub.publishAsync(deviceTopic('w9'), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
          return ingest.stats().received > 0;
        },
        { what: 'ingest subscribed', intervalMs: 200 },
      );
    });

    afterAll(async () => {
      await pub?.endAsync();
      await ingest?.close();
      await broker?.stop();
    });

    it('writes exactly N points for N readings: single, device batch and gateway batch', async () => {
      const sent = await publishMix(pub, 30);
      const where = `"device" != 'w9'`;
      await waitFor(async () => (await countPoints(influx, 'wearable', 'seq', where)) >= sent.wearable, {
        what: `${sent.wearable} wearable points`,
        timeoutMs: 20_000,
      });
      await ingest.flush();
      expect(await countPoints(influx, 'wearable', 'seq', where)).toBe(sent.wearable);
      expect(await countPoints(influx, 'room_env', 'temp')).toBe(sent.room);
      expect(ingest.stats().invalidTotal).toBe(0);
    });

    it('enriches points with the registry: room and infant tags, and writes alarms and status', async () => {
      await pub.publishAsync(
        topics.deviceAlarm(CENTER, 'a1'),
        JSON.stringify({ v: 1, ts: Date.now(), seq: 1, event: 'pressed' }),
        {
          qos: 1,
        },
      );
      await pub.publishAsync(
        topics.deviceStatus(CENTER, 'w2'),
        JSON.stringify({ v: 1, ts: Date.now(), state: 'online', battery: 77.4 }),
        { qos: 1 },
      );
      await waitFor(async () => (await countPoints(influx, 'device_status', 'online')) === 1, {
        what: 'status point',
      });
      await waitFor(async () => (await countPoints(influx, 'alarm', 'seq')) === 1, { what: 'alarm point' });
      const [status] = await influxRows(influx, 'SELECT * FROM device_status');
      expect(status).toMatchObject({
        center: CENTER,
        room: 'r1',
        device: 'w2',
        kind: 'wearable',
        online: 1,
        battery: 77,
      });
      const [alarm] = await influxRows(influx, 'SELECT * FROM alarm');
      expect(alarm).toMatchObject({ center: CENTER, room: 'r1', device: 'a1', event: 'pressed', seq: 1 });
      const [reading] = await influxRows(influx, `SELECT * FROM wearable WHERE "device" = 'b2' LIMIT 1`);
      expect(reading).toMatchObject({
        center: CENTER,
        room: 'r1',
        device: 'b2',
        infant: 'i6',
        posture: 'supine',
        prone: 0,
      });
    });

    it('writes its own pipeline points', async () => {
      await waitFor(async () => (await countPoints(influx, 'pipeline', 'received')) >= 2, {
        what: 'pipeline points',
      });
      const [row] = await influxRows(
        influx,
        'SELECT last("received") AS received, "instance" FROM pipeline GROUP BY "service"',
      );
      expect(row).toMatchObject({ service: 'ingest' });
      expect(Number(row!.received)).toBeGreaterThan(0);
    });

    it('subscribes only to its own centres with --centers', async () => {
      const other = await startIngest(
        testConfig(influx, broker.url, { centers: [OTHER_CENTER], http: { enabled: false } }),
        silentLogger,
        { fleet: testFleetIndex() },
      );
      try {
        expect(other.centers()).toEqual([OTHER_CENTER]);
        await waitFor(
          async () => {
            await pub.publishAsync(deviceTopic('w1'), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
            await pub.publishAsync(deviceTopic('x1', OTHER_CENTER), JSON.stringify({ v: 1, ...wearable() }), {
              qos: 1,
            });
            return other.stats().received > 0;
          },
          { what: 'other centre received', intervalMs: 200 },
        );
        await new Promise((r) => setTimeout(r, 300));
        // Every message it saw came from its centre: none of the c1 readings reached it.
        expect(other.stats().written).toBe(other.stats().received);
        expect(other.stats().invalidTotal).toBe(0);
      } finally {
        await other.close();
      }
    });

    it('serves /metrics and /healthz', async () => {
      const metrics = await (await fetch(`${ingest.httpUrl}/metrics`)).text();
      expect(sampleSum(metrics, 'cradlewatch_ingest_received_total')).toBe(ingest.stats().received);
      expect(metrics).toMatch(/cradlewatch_ingest_write_seconds_bucket/);
      expect(promtoolCheck(metrics)).toEqual({ code: 0, output: '' });
      const health = await fetch(`${ingest.httpUrl}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({
        status: 'ok',
        service: 'ingest',
        checks: [
          { name: 'influx', ok: true },
          { name: 'mqtt', ok: true },
          { name: 'spool', ok: true },
          { name: 'deadletter', ok: true },
          { name: 'backpressure', ok: true },
        ],
      });
    });
  });
}

// Stock limits: 20 messages in flight per client, so batches must be sealed when the broker goes quiet.
endToEnd('mosquitto with its stock limits', async () => {
  const m: RunningMosquitto = await startMosquitto('stock');
  return m;
});

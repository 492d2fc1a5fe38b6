import { Point, setLogger } from '@influxdata/influxdb-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { InfluxQueryError, influxQl, influxRows, pingInflux } from '../lib/influx/query.ts';
import { createWriteApi } from '../lib/influx/writer.ts';
import { freePort } from '../lib/net.ts';
import { dockerAvailable } from './support/docker.ts';
import { freshInflux } from './support/influx.ts';
import { startInflux2Container } from './support/influx-provider.ts';

const T0 = Date.UTC(2026, 0, 15, 9, 30);

function wearablePoint(device: string, at: number, posture: string, skinTemp: number): Point {
  return new Point('wearable')
    .tag('center', 'sunny')
    .tag('room', 'nap-1')
    .tag('device', device)
    .stringField('posture', posture)
    .intField('prone', posture === 'prone' ? 1 : 0)
    .floatField('skin_temp', skinTemp)
    .intField('battery', 87)
    .timestamp(at);
}

/**
 * What every service relies on from the writer and the query helper, on whichever server `connect` gives:
 * batching writes that land, ms timestamps that come back exactly, idempotent rewrites, typed fields.
 */
function writerContract(connect: () => Promise<InfluxConnection>): void {
  let conn: InfluxConnection;
  // A first run may pull the InfluxDB 2.7 image.
  beforeAll(async () => {
    conn = await connect();
  }, 180_000);

  it('writes points through WriteApi and reads them back with InfluxQL', async () => {
    const writer = createWriteApi(conn, { batchSize: 50, flushInterval: 0, maxRetries: 0 });
    for (let i = 0; i < 120; i++)
      writer.writePoint(
        wearablePoint(`w-${i % 3}`, T0 + i * 1_000 + 7, i % 10 === 0 ? 'prone' : 'supine', 36 + i / 1000),
      );
    await writer.close();

    const rows = await influxRows(
      conn,
      `SELECT posture, prone, skin_temp, battery FROM wearable WHERE device = 'w-1' ORDER BY time`,
    );
    expect(rows).toHaveLength(40);
    expect(rows[0]).toEqual({
      time: T0 + 1_000 + 7,
      posture: 'supine',
      prone: 0,
      skin_temp: 36.001,
      battery: 87,
    });
    const counts = await influxRows(conn, `SELECT count(skin_temp) FROM wearable GROUP BY device`);
    expect(Object.fromEntries(counts.map((r) => [r.device, r.count]))).toEqual({
      'w-0': 40,
      'w-1': 40,
      'w-2': 40,
    });
    const prone = await influxRows(conn, 'SELECT sum(prone) FROM wearable');
    expect(prone[0]?.sum).toBe(12);
  });

  it('keeps integer fields integers and rewrites of the same point idempotent', async () => {
    const writer = createWriteApi(conn, { flushInterval: 0, maxRetries: 0 });
    const point = () =>
      new Point('room_env')
        .tag('device', 'env-1')
        .floatField('temp', 21.5)
        .intField('co2', 640)
        .timestamp(T0);
    writer.writePoint(point());
    await writer.flush();
    // A QoS 1 redelivery writes the same measurement, tags and time again: still one point.
    writer.writePoint(point());
    await writer.close();
    expect(await influxRows(conn, 'SELECT count(temp) FROM room_env')).toMatchObject([{ count: 1 }]);
    const [types] = await influxQl(conn, 'SHOW FIELD KEYS FROM room_env');
    expect(Object.fromEntries(types?.series?.[0]?.values ?? [])).toEqual({ co2: 'integer', temp: 'float' });
  });

  it('reports a write the server refuses instead of losing it silently', async () => {
    const writer = createWriteApi(conn, { flushInterval: 0, maxRetries: 0 });
    writer.writePoint(new Point('room_env').tag('device', 'env-2').intField('co2', 1).timestamp(T0));
    await writer.flush();
    // The same field as a float conflicts with the stored integer type: InfluxDB answers 400.
    writer.writePoint(
      new Point('room_env')
        .tag('device', 'env-2')
        .floatField('co2', 1.5)
        .timestamp(T0 + 1),
    );
    // The library also logs the failure to the console; keep it for the assertion instead.
    const logged: string[] = [];
    const previous = setLogger({
      error: (message) => logged.push(message),
      warn: (message) => logged.push(message),
    });
    try {
      await expect(writer.flush()).rejects.toThrow(/field type conflict/);
      expect(logged.join('\n')).toContain('Write to InfluxDB failed');
    } finally {
      setLogger(previous);
    }
    await writer.close().catch(() => {});
  });

  it('throws InfluxQueryError for a statement the server refuses', async () => {
    await expect(influxQl(conn, 'SELECT FROM WHERE')).rejects.toBeInstanceOf(InfluxQueryError);
  });
}

describe(`InfluxDB writer and InfluxQL on the run's server`, () => {
  writerContract(() => freshInflux());

  it('pingInflux answers false for a port nobody listens on', async () => {
    expect(await pingInflux({ url: `http://127.0.0.1:${await freePort()}` }, 1_000)).toBe(false);
  });
});

const docker = await dockerAvailable();

describe.skipIf(!docker)(
  `InfluxDB 2.7 v2 API${docker ? ' (testcontainers)' : ' [needs Docker: skipped, no Docker engine]'}`,
  () => {
    let stop: (() => Promise<void>) | undefined;
    afterAll(async () => {
      await stop?.();
    });
    writerContract(async () => {
      const container = await startInflux2Container();
      stop = container.stop;
      const conn = await freshInflux({ ...container.info, source: 'testcontainers' });
      expect(conn.api).toBe('v2');
      return conn;
    });
  },
);

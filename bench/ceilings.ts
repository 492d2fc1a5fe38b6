import { topics } from '../protocol/topics.ts';
import { measureBareAedes } from './broker-pubsub.ts';
import type { InfluxV1 } from './options.ts';

/** Plain line-protocol writer: 5,000-line batches of the same wearable points ingest writes. */
async function influxCeiling(conn: InfluxV1, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let points = 0;
  let ts = Date.now() - 3_600_000;
  const started = performance.now();
  while (Date.now() < deadline) {
    const lines: string[] = [];
    for (let i = 0; i < 5_000; i += 1) {
      ts += 1;
      lines.push(
        `wearable,center=c${i % 50},room=r${i % 500},device=w-${i},infant=i-${i} posture="supine",prone=0i,skin_temp=36.4,motion=0.3,battery=80i,rssi=-60i,seq=${points + i}i ${ts}`,
      );
    }
    const response = await fetch(`${conn.url}/write?db=${conn.database}&precision=ms`, {
      method: 'POST',
      body: lines.join('\n'),
    });
    if (!response.ok) throw new Error(`ceiling write failed: ${response.status}`);
    points += lines.length;
  }
  return Math.round(points / ((performance.now() - started) / 1000));
}

/** A gateway batch of 100 readings through a bare Aedes, in readings/s. */
async function brokerCeiling(seconds: number): Promise<number> {
  const now = Date.now();
  const batch = Buffer.from(
    JSON.stringify({
      v: 1,
      batch: Array.from({ length: 100 }, (_, i) => ({
        device: `w-c1-r1-i${i}`,
        ts: now,
        seq: i,
        posture: 'supine',
        skinTempC: 36.4,
        motion: 0.3,
        worn: true,
        battery: 80,
      })),
    }),
  );
  const result = await measureBareAedes(topics.gatewayTelemetry('c1', 'gw-c1-r1'), seconds, batch);
  return result.perSecond * 100;
}

/** The stock parts' ceilings, measured in the same run so results read as ratios on a noisy machine. */
export async function measureCeilings(
  conn: InfluxV1,
  seconds: number,
): Promise<{ influxPointsPerS: number; bareBrokerReadingsPerS: number }> {
  return {
    influxPointsPerS: await influxCeiling(conn, seconds),
    bareBrokerReadingsPerS: await brokerCeiling(seconds),
  };
}

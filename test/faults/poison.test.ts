import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic, publisher } from '../support/ingest.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { waitFor } from '../../lib/net.ts';
import { type DeadLetter, LIMITS, deadLetterSchema } from '../../protocol/payloads.ts';
import type { Reason } from '../../protocol/reasons.ts';
import { freshInflux } from '../support/influx.ts';
import { type FaultRig, startRig } from './harness.ts';

const topic = deviceTopic('w2');
/** PUBLISH fixed header (1 + 3 length bytes), topic length and topic, packet id. */
const publishOverhead = 1 + 3 + 2 + Buffer.byteLength(topic) + 2;
const brokerMaxPacket = LIMITS.maxMessageBytes + 1024;

interface Poison {
  name: string;
  payload: Buffer;
  reason: Reason;
}

/** #15's poison messages, each at the size where its dead-letter record used to outgrow the broker's limit. */
const POISONS: Poison[] = [
  {
    name: '3.1 KB non-JSON with raw control characters',
    // Each control character is six bytes in JSON: the old record was 18.6 KB.
    payload: Buffer.concat([Buffer.from('{"v":1,'), Buffer.alloc(3_100, 0x01)]),
    reason: 'not-json',
  },
  {
    name: '13 KB of non-UTF-8',
    payload: Buffer.alloc(13_000, 0xfe),
    reason: 'bad-utf8',
  },
  {
    name: '15 KB invalid batch',
    payload: Buffer.from(
      JSON.stringify({
        v: 2,
        batch: Array.from({ length: 100 }, () => ({ posture: '"'.repeat(62), note: '\\' })),
      }),
    ),
    reason: 'schema',
  },
  {
    name: `payload between ingest's 16,384 and the broker's ${brokerMaxPacket}-byte packet limit`,
    payload: Buffer.alloc(brokerMaxPacket - publishOverhead, 0x22),
    reason: 'too-large',
  },
  {
    name: '2,500-item deep batch',
    payload: Buffer.from(`{"v":1,"batch":[${Array.from({ length: 2_500 }, () => '[[1]]').join(',')}]}`),
    reason: 'batch-too-large',
  },
];

describe('poison messages never wedge ingest (#15.1)', () => {
  let influx: InfluxConnection;
  let rig: FaultRig;
  let watcher: MqttClient;
  const published: { bytes: number; record: DeadLetter }[] = [];

  beforeAll(async () => {
    influx = await freshInflux();
    rig = await startRig(influx);
    watcher = await publisher(rig.broker.mqttUrl);
    await watcher.subscribeAsync('cw/v1/deadletter/#', { qos: 0 });
    watcher.on('message', (_topic, payload) =>
      published.push({
        bytes: payload.length,
        record: deadLetterSchema.parse(JSON.parse(payload.toString())),
      }),
    );
  });

  afterAll(async () => {
    await watcher?.endAsync();
    await rig?.close();
  });

  const records = (): DeadLetter[] =>
    readFileSync(join(rig.config.deadletter.dir, 'deadletter.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => deadLetterSchema.parse(JSON.parse(line)));

  it.each(POISONS)(
    '$name: acknowledged once, dead-lettered once, good readings all written',
    async (poison) => {
      expect(poison.payload.length).toBeLessThanOrEqual(brokerMaxPacket - publishOverhead);
      const sha256 = createHash('sha256').update(poison.payload).digest('hex');
      const connectsBefore = rig.connects();
      await rig.publishGood(40);
      await rig.pub.publishAsync(topic, poison.payload, { qos: 1 });
      await rig.publishGood(40);
      await rig.allWritten();
      await rig.ingest.flush();

      // The broker holds nothing more for ingest: the poison was acknowledged, so it will not come again.
      await waitFor(async () => (await rig.unacknowledged()) === 0, { what: 'every message acknowledged' });
      expect(await rig.written()).toBe(rig.acknowledged);
      expect(rig.connects()).toBe(connectsBefore);

      const mine = records().filter((r) => r.sha256 === sha256);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ reason: poison.reason, size: poison.payload.length, topic });
      expect(Buffer.byteLength(JSON.stringify(mine[0]))).toBeLessThanOrEqual(
        rig.config.deadletter.maxRecordBytes,
      );
      // The whole message is kept beside the record.
      expect(readFileSync(join(rig.config.deadletter.dir, 'payloads', sha256))).toEqual(poison.payload);

      await waitFor(() => published.some((p) => p.record.sha256 === sha256), { what: 'the record on MQTT' });
      const copy = published.find((p) => p.record.sha256 === sha256)!;
      expect(copy.bytes).toBeLessThanOrEqual(LIMITS.maxMessageBytes);
      expect(copy.record.reason).toBe(poison.reason);
      console.log(
        `[faults] poison ${poison.name} (${poison.payload.length} B): ${rig.acknowledged} acknowledged, ` +
          `${await rig.written()} written, ${mine.length} dead letter of ${copy.bytes} B on MQTT, ` +
          `${rig.connects()} connect(s)`,
      );
    },
  );

  it('counts one refusal per poison message and ingest never reconnected', () => {
    expect(rig.ingest.stats().invalidTotal).toBe(POISONS.length);
    expect(rig.connects()).toBe(1);
    expect(rig.ingest.stats().connects).toBe(1);
  });
});

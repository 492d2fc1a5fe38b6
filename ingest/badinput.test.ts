import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { silentLogger } from '../lib/logger.ts';
import { influxRows } from '../lib/influx/query.ts';
import { waitFor } from '../lib/net.ts';
import { type DeadLetter, LIMITS, deadLetterSchema } from '../protocol/payloads.ts';
import type { Reason } from '../protocol/reasons.ts';
import { topics } from '../protocol/topics.ts';
import { countPoints, freshInflux } from '../test/support/influx.ts';
import type { IngestConfig } from './config.ts';
import { type Ingest, startIngest } from './service.ts';
import {
  CENTER,
  OTHER_CENTER,
  deviceTopic,
  gatewayTopic,
  publisher,
  roomReading,
  testConfig,
  testFleetIndex,
  wearable,
} from '../test/support/ingest.ts';
import { type RunningMosquitto, startMosquitto } from '../test/support/mosquitto.ts';

interface Bad {
  name: string;
  topic: string;
  payload: string | Buffer | (() => string | Buffer);
  reason: Reason;
  /** Readings of the same message that are still written (a batch with some bad items). */
  good?: number;
  /** Dead letters this message makes (batch items refused one by one). */
  records?: number;
}

const w = (o: Record<string, unknown> = {}) => JSON.stringify({ v: 1, ...wearable(o) });
const repeated = JSON.stringify({ v: 1, ...wearable({ seq: 999_999_001 }) });

/** The catalogue: each entry is one way a device can get it wrong, with the reason it must be refused for. */
const CATALOGUE: Bad[] = [
  { name: 'not JSON', topic: deviceTopic('w1'), payload: '{"v":1,', reason: 'not-json' },
  { name: 'plain text', topic: deviceTopic('w1'), payload: 'hello', reason: 'not-json' },
  {
    name: 'bad UTF-8',
    topic: deviceTopic('w1'),
    payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    reason: 'bad-utf8',
  },
  {
    name: 'NaN',
    topic: deviceTopic('w1'),
    payload: () => w().replace('"motion":0.3', '"motion":NaN'),
    reason: 'not-json',
  },
  {
    name: 'null skinTempC',
    topic: deviceTopic('w1'),
    payload: () => w({ skinTempC: null }),
    reason: 'schema',
  },
  {
    name: 'string where a number belongs',
    topic: deviceTopic('w1'),
    payload: () => w({ battery: '80' }),
    reason: 'schema',
  },
  { name: 'boolean as a number', topic: deviceTopic('w1'), payload: () => w({ worn: 1 }), reason: 'schema' },
  {
    name: 'unknown posture',
    topic: deviceTopic('w1'),
    payload: () => w({ posture: 'sideways' }),
    reason: 'schema',
  },
  {
    name: 'motion out of range',
    topic: deviceTopic('w1'),
    payload: () => w({ motion: 7 }),
    reason: 'schema',
  },
  {
    name: 'skin temperature out of range',
    topic: deviceTopic('w1'),
    payload: () => w({ skinTempC: 80 }),
    reason: 'schema',
  },
  { name: 'negative seq', topic: deviceTopic('w1'), payload: () => w({ seq: -1 }), reason: 'schema' },
  {
    name: 'wrong version',
    topic: deviceTopic('w1'),
    payload: () => JSON.stringify({ ...wearable(), v: 2 }),
    reason: 'schema',
  },
  { name: 'JSON array', topic: deviceTopic('w1'), payload: '[1,2,3]', reason: 'schema' },
  {
    name: 'neither wearable nor room',
    topic: deviceTopic('w1'),
    payload: '{"v":1,"ts":1}',
    reason: 'schema',
  },
  {
    name: 'too large',
    topic: deviceTopic('w1'),
    payload: () => JSON.stringify({ v: 1, ...wearable(), pad: 'x'.repeat(LIMITS.maxMessageBytes) }),
    reason: 'too-large',
  },
  { name: 'unknown device', topic: deviceTopic('nobody'), payload: () => w(), reason: 'unknown-device' },
  {
    name: 'device of another centre',
    topic: deviceTopic('x1'),
    payload: () => w(),
    reason: 'topic-mismatch',
  },
  {
    name: 'room reading on a wearable',
    topic: deviceTopic('w1'),
    payload: () => JSON.stringify({ v: 1, ...roomReading() }),
    reason: 'topic-mismatch',
  },
  {
    name: 'wearable publishing as a gateway',
    topic: gatewayTopic('w1'),
    payload: () => JSON.stringify({ v: 1, batch: [wearable({ device: 'w1' })] }),
    reason: 'topic-mismatch',
  },
  {
    name: 'clock skew ahead',
    topic: deviceTopic('w1'),
    payload: () => w({ ts: Date.now() + 10 * 60_000 }),
    reason: 'clock-skew',
  },
  {
    name: 'clock skew behind',
    topic: deviceTopic('w1'),
    payload: () => w({ ts: Date.now() - 60 * 60_000 }),
    reason: 'clock-skew',
  },
  { name: 'empty batch', topic: deviceTopic('w1'), payload: '{"v":1,"batch":[]}', reason: 'empty-batch' },
  {
    name: 'oversized batch',
    topic: deviceTopic('w1'),
    payload: () =>
      JSON.stringify({ v: 1, batch: Array.from({ length: LIMITS.maxBatchReadings + 1 }, () => ({ ts: 1 })) }),
    reason: 'batch-too-large',
  },
  { name: 'duplicate seq', topic: deviceTopic('w2'), payload: repeated, reason: 'duplicate' },
  {
    name: 'batch with one bad item among good ones',
    topic: deviceTopic('w3'),
    payload: () => JSON.stringify({ v: 1, batch: [wearable(), wearable({ motion: -1 }), wearable()] }),
    reason: 'schema',
    good: 2,
  },
  {
    name: 'gateway relaying a device of another room',
    topic: gatewayTopic('g1'),
    payload: () => JSON.stringify({ v: 1, batch: [wearable({ device: 'b1' }), wearable({ device: 'w9' })] }),
    reason: 'topic-mismatch',
    good: 1,
  },
  {
    name: 'gateway batch item without a device',
    topic: gatewayTopic('g1'),
    payload: () => JSON.stringify({ v: 1, batch: [wearable(), wearable({ device: 'b2' })] }),
    reason: 'schema',
    good: 1,
  },
  {
    name: 'gateway batch item of an unknown device',
    topic: gatewayTopic('g1'),
    payload: () => JSON.stringify({ v: 1, batch: [wearable({ device: 'ghost' })] }),
    reason: 'unknown-device',
  },
  {
    name: 'malformed device id in the topic',
    topic: `cw/v1/${CENTER}/devices/BAD_ID/telemetry`,
    payload: () => w(),
    reason: 'bad-topic',
  },
  {
    name: 'alarm with an unknown event',
    topic: topics.deviceAlarm(CENTER, 'a1'),
    payload: '{"v":1,"ts":1,"seq":1,"event":"held"}',
    reason: 'schema',
  },
  {
    name: 'alarm from a wearable',
    topic: topics.deviceAlarm(CENTER, 'w1'),
    payload: () => JSON.stringify({ v: 1, ts: Date.now(), seq: 5, event: 'pressed' }),
    reason: 'topic-mismatch',
  },
];

describe('bad input: every refusal is dead-lettered with its reason and good data keeps flowing', () => {
  let broker: RunningMosquitto;
  let influx: InfluxConnection;
  let ingest: Ingest;
  let config: IngestConfig;
  let pub: MqttClient;
  let watcher: MqttClient;
  const published: DeadLetter[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    influx = await freshInflux();
    config = testConfig(influx, broker.url, { metricsIntervalMs: 300 });
    ingest = await startIngest(config, silentLogger, { fleet: testFleetIndex() });
    watcher = await publisher(broker.url);
    await watcher.subscribeAsync('cw/v1/deadletter/#', { qos: 0 });
    watcher.on('message', (_topic, payload) =>
      published.push(deadLetterSchema.parse(JSON.parse(payload.toString()))),
    );
    pub = await publisher(broker.url);
    await waitFor(
      async () => {
        await pub.publishAsync(deviceTopic('w9'), w(), { qos: 1 });
        return ingest.stats().received > 0;
      },
      { what: 'ingest subscribed', intervalMs: 200 },
    );
    // The first copy of the repeated reading is good; the catalogue's copy is the duplicate.
    await pub.publishAsync(deviceTopic('w2'), repeated, { qos: 1 });
  });

  afterAll(async () => {
    await pub?.endAsync();
    await watcher?.endAsync();
    await ingest?.close();
    await broker?.stop();
  });

  it(`refuses ${CATALOGUE.length} kinds of bad input, interleaved with good readings`, async () => {
    expect(CATALOGUE.length).toBeGreaterThanOrEqual(20);
    let good = 1;
    for (const bad of CATALOGUE) {
      const payload = typeof bad.payload === 'function' ? bad.payload() : bad.payload;
      await pub.publishAsync(bad.topic, payload, { qos: 1 });
      await pub.publishAsync(deviceTopic('w4'), w(), { qos: 1 });
      good += 1 + (bad.good ?? 0);
    }
    const expected = CATALOGUE.reduce((n, bad) => n + (bad.records ?? 1), 0);
    await waitFor(() => ingest.stats().invalidTotal >= expected, {
      what: `${expected} dead letters`,
      timeoutMs: 15_000,
    });
    // The good reading published after the last bad one may still be on its way when the dead letters are
    // all counted: wait for the points, then check none is extra.
    const goodPoints = () => countPoints(influx, 'wearable', 'seq', `"device" != 'w9'`);
    await waitFor(
      async () => {
        await ingest.flush();
        return (await goodPoints()) >= good;
      },
      {
        what: `${good} good points`,
        timeoutMs: 15_000,
      },
    );
    expect(ingest.stats().invalidTotal).toBe(expected);
    expect(await goodPoints()).toBe(good);

    const file = readFileSync(join(config.deadletter.dir, 'deadletter.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => deadLetterSchema.parse(JSON.parse(line)));
    expect(file).toHaveLength(expected);
    const byReason = new Map<string, number>();
    for (const bad of CATALOGUE)
      byReason.set(bad.reason, (byReason.get(bad.reason) ?? 0) + (bad.records ?? 1));
    expect(ingest.stats().invalid).toEqual(Object.fromEntries(byReason));
    // The pipeline point carries the same counts per reason, for the supervisors' dashboards.
    const pipelineByReason = async () => {
      const [row] = await influxRows(influx, 'SELECT * FROM pipeline ORDER BY time DESC LIMIT 1');
      return Object.fromEntries([...byReason.keys()].map((r) => [r, Number(row?.[`invalid_${r}`] ?? 0)]));
    };
    await waitFor(
      async () => JSON.stringify(await pipelineByReason()) === JSON.stringify(Object.fromEntries(byReason)),
      {
        what: 'invalid_<reason> fields on the pipeline point',
      },
    );
    CATALOGUE.forEach((bad, i) => {
      const record = file[i]!;
      expect({ name: bad.name, reason: record.reason, topic: record.topic }).toEqual({
        name: bad.name,
        reason: bad.reason,
        topic: bad.topic,
      });
    });
    const utf8 = file.find((r) => r.reason === 'bad-utf8')!;
    expect(utf8.encoding).toBe('base64');
    expect(Buffer.from(utf8.payload, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    const mixed = file.find((r) => r.topic === deviceTopic('w3'))!;
    expect(JSON.parse(mixed.payload)).toMatchObject({ motion: -1 });
    await waitFor(() => published.length >= expected, { what: 'dead letters on MQTT' });
    expect(published.map((r) => r.reason).sort()).toEqual(file.map((r) => r.reason).sort());
    expect(published.find((r) => r.reason === 'topic-mismatch' && r.device === 'x1')?.center).toBe(CENTER);
  });

  it('isolates lines InfluxDB refuses (4xx) to the dead-letter and writes the rest of the batch', async () => {
    // A float resp_rate cannot join a field InfluxDB already holds as a string: those lines get a 400.
    const conflict = await fetch(
      `${influx.url}/write?db=${influx.api === 'v1' ? influx.database : ''}&precision=ms`,
      {
        method: 'POST',
        body: `wearable,center=${OTHER_CENTER},device=zz resp_rate="text" ${Date.now()}`,
      },
    );
    expect(conflict.status).toBe(204);
    const before = ingest.stats();
    const batch = [
      wearable({ device: 'b1', respRate: 40 }),
      wearable({ device: 'b2' }),
      wearable({ device: 'b3', respRate: 42 }),
    ];
    await pub.publishAsync(gatewayTopic('g1'), JSON.stringify({ v: 1, batch }), { qos: 1 });
    await waitFor(() => (ingest.stats().invalid['influx-rejected'] ?? 0) >= 2, {
      what: 'influx-rejected dead letters',
    });
    await ingest.flush();
    expect(ingest.stats().written - before.written).toBeGreaterThanOrEqual(1);
    expect(await countPoints(influx, 'wearable', 'skin_temp', `"device" = 'b2'`)).toBeGreaterThanOrEqual(1);
    const file = readFileSync(join(config.deadletter.dir, 'deadletter.jsonl'), 'utf8').trim().split('\n');
    const rejected = file
      .map((l) => JSON.parse(l) as DeadLetter)
      .filter((r) => r.reason === 'influx-rejected');
    expect(rejected).toHaveLength(2);
    expect(rejected[0]).toMatchObject({ topic: gatewayTopic('g1'), center: CENTER, device: 'g1' });
    expect(rejected[0]!.detail).toMatch(/InfluxDB 400/);
  });
});

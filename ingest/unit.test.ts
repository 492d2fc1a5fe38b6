import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../protocol/config.ts';
import { loadIngestConfig } from './config.ts';
import { DeadLetterFile, deadLetterRecord, deadLetterTopic } from './deadletter.ts';
import { AckGate } from './mqtt-client.ts';
import type { MqttClient } from 'mqtt';
import { selectCenters, stableHash } from '../protocol/partition.ts';
import { SeqWindow, transform } from './transform.ts';
import {
  CENTER,
  deviceTopic,
  gatewayTopic,
  tempDir,
  testFleetIndex,
  wearable,
} from '../test/support/ingest.ts';

const influxEnv = { CW_INFLUX_API: 'v1', CW_INFLUX_URL: 'http://127.0.0.1:8086', CW_INFLUX_DATABASE: 'cw' };

describe('config', () => {
  it('takes defaults, env and flags, and defaults the InfluxDB API to v2', () => {
    const config = loadIngestConfig({
      env: { ...influxEnv, CW_INGEST_MAX_SKEW_MS: 'off', CW_INGEST_CENTERS: 'c1, c2' },
    });
    expect(config.influx).toEqual({ api: 'v1', url: 'http://127.0.0.1:8086', database: 'cw' });
    expect(config.maxClockSkewMs).toBeNull();
    expect(config.centers).toEqual(['c1', 'c2']);
    expect(config.mqtt).toMatchObject({ clientId: 'cradlewatch-ingest', url: 'mqtt://127.0.0.1:1883' });
    const v2 = loadIngestConfig({
      env: {},
      overrides: {
        influx: { url: 'http://x:8086', token: 't', org: 'o', bucket: 'b' },
        partition: '1/3',
        spool: { maxBytes: '1048576' },
      },
    });
    expect(v2.influx.api).toBe('v2');
    expect(v2.partition).toEqual({ index: 1, count: 3 });
    expect(v2.spool.maxBytes).toBe(1_048_576);
  });

  it.each([
    [{ CW_INGEST_PARTITION: '3/3' }, /partition/],
    [{ CW_INGEST_PARTITION: 'half' }, /partition \(env CW_INGEST_PARTITION\): expected i\/n/],
    [{ CW_INGEST_SPOOL_MAX_BYTES: '-5' }, /spool\.maxBytes \(env CW_INGEST_SPOOL_MAX_BYTES\)/],
    [{ CW_INGEST_MAX_SKEW_MS: 'soon' }, /maxClockSkewMs/],
    [{ CW_MQTT_URL: 'http://broker' }, /mqtt\.url \(env CW_MQTT_URL\)/],
    [{ CW_INGEST_CENTERS: 'Bad Centre' }, /centers/],
    [{ CW_INGEST_CENTERS: 'c1', CW_INGEST_PARTITION: '0/2' }, /centers or partition/],
    [{ CW_INFLUX_URL: 'not a url' }, /influx\.url \(env CW_INFLUX_URL\)/],
  ])('refuses %o naming the field', (env, message) => {
    expect(() => loadIngestConfig({ env: { ...influxEnv, ...env } })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ env: { ...influxEnv, ...env } })).toThrow(message);
  });

  it('refuses a config without an InfluxDB connection', () => {
    expect(() => loadIngestConfig({ env: {} })).toThrow(
      /influx\.url \(not set; env CW_INFLUX_URL\): required/,
    );
  });
});

describe('partitioning', () => {
  it('hashes centre ids stably and splits a city without overlap or gaps', () => {
    expect(stableHash('c1')).toBe(stableHash('c1'));
    expect(stableHash('')).toBe(0x811c9dc5);
    const fleet = testFleetIndex();
    const parts = [0, 1, 2].map((index) => selectCenters(fleet, { partition: { index, count: 3 } }));
    expect(parts.flat().sort()).toEqual([...fleet.centers.keys()].sort());
    expect(selectCenters(fleet, { centers: ['c2'] })).toEqual(['c2']);
    expect(selectCenters(fleet, {})).toEqual(['c1', 'c2']);
  });
});

describe('transform', () => {
  const fleet = testFleetIndex();
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('writes a wearable reading with the registry tags and the docs/design.md fields in ms', () => {
    const reading = wearable({ posture: 'prone', battery: 55.6, respRate: 38 });
    const out = transform(deviceTopic('w2'), bytes({ v: 1, ...reading }), fleet, new SeqWindow(8), {
      maxSkewMs: null,
    });
    expect(out.refused).toEqual([]);
    expect(out.lines).toEqual([
      `wearable,center=${CENTER},device=w2,infant=i2,room=r1 battery=56i,motion=0.3,posture="prone",prone=1i,resp_rate=38,rssi=-60i,seq=${reading.seq}i,skin_temp=36.2,worn=1i ${reading.ts}`,
    ]);
  });

  it('leaves the infant tag off a spare wearable and fans a gateway batch out to its devices', () => {
    const spare = transform(deviceTopic('w9'), bytes({ v: 1, ...wearable() }), fleet, new SeqWindow(8), {
      maxSkewMs: null,
    });
    expect(spare.lines[0]).toMatch(/^wearable,center=c1,device=w9,room=r2 /);
    const batch = [wearable({ device: 'b1' }), wearable({ device: 'b3' })];
    const out = transform(gatewayTopic('g1'), bytes({ v: 1, batch }), fleet, new SeqWindow(8), {
      maxSkewMs: null,
    });
    expect(out.lines.map((l) => /device=(\w+)/.exec(l)?.[1])).toEqual(['b1', 'b3']);
  });

  it('refuses a repeated (seq, ts) as duplicate but takes a reused seq with a new ts (device reboot)', () => {
    const window = new SeqWindow(8);
    const reading = wearable();
    const first = transform(deviceTopic('w1'), bytes({ v: 1, ...reading }), fleet, window, {
      maxSkewMs: null,
    });
    const again = transform(deviceTopic('w1'), bytes({ v: 1, ...reading }), fleet, window, {
      maxSkewMs: null,
    });
    const rebooted = transform(
      deviceTopic('w1'),
      bytes({ v: 1, ...reading, ts: (reading.ts as number) + 1 }),
      fleet,
      window,
      {
        maxSkewMs: null,
      },
    );
    expect([first.lines.length, again.lines.length, rebooted.lines.length]).toEqual([1, 0, 1]);
    expect(again.refused[0]?.reason).toBe('duplicate');
  });
});

describe('dead-letter file', () => {
  it('keeps original bytes (base64 when not UTF-8) and rotates past its size, keeping keepFiles', () => {
    const dir = tempDir();
    const file = new DeadLetterFile({
      dir,
      maxFileBytes: 600,
      keepFiles: 2,
      maxRecordBytes: 4_096,
      maxPayloadBytes: 1_024,
    });
    const record = deadLetterRecord(
      { topic: 't', reason: 'bad-utf8', detail: 'd', payload: Buffer.from([0xff, 0x00]), center: 'c1' },
      4_096,
    );
    expect(record).toMatchObject({ encoding: 'base64', payload: '/wA=', center: 'c1' });
    expect(deadLetterTopic(record)).toBe('cw/v1/deadletter/c1/unknown');
    for (let i = 0; i < 20; i++) file.append(record, Buffer.from([0xff, 0x00]));
    file.close();
    expect(readdirSync(dir).sort()).toEqual([
      'deadletter.1.jsonl',
      'deadletter.2.jsonl',
      'deadletter.jsonl',
      'payloads',
    ]);
    // Twenty records of one message keep its bytes once.
    expect(readdirSync(join(dir, 'payloads'))).toEqual([record.sha256]);
    const lines = readFileSync(join(dir, 'deadletter.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ reason: 'bad-utf8', topic: 't' });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('dead-letter record', () => {
  const json = (record: unknown) => Buffer.byteLength(JSON.stringify(record));

  it('stays within its cap whatever the payload, keeping its size, hash and first bytes', () => {
    const controls = Buffer.alloc(3_100, 0x01);
    const nonUtf8 = Buffer.alloc(13_000, 0xff);
    const quotes = Buffer.from('"'.repeat(15_000));
    for (const payload of [controls, nonUtf8, quotes]) {
      const record = deadLetterRecord(
        { topic: 't', reason: 'not-json', detail: 'x'.repeat(5_000), payload },
        4_096,
      );
      expect(json(record)).toBeLessThanOrEqual(4_096);
      expect(record).toMatchObject({ size: payload.length, truncated: true });
      expect(record.detail.length).toBeLessThan(5_000);
      const shown =
        record.encoding === 'base64' ? Buffer.from(record.payload, 'base64') : Buffer.from(record.payload);
      expect(shown.length).toBeGreaterThan(0);
      expect(payload.subarray(0, shown.length)).toEqual(shown);
    }
  });

  it('keeps a small payload whole and says nothing of truncation', () => {
    const record = deadLetterRecord(
      { topic: 't', reason: 'not-json', detail: 'd', payload: Buffer.from('hé') },
      4_096,
    );
    expect(record).toMatchObject({ payload: 'hé', encoding: 'utf8', size: 3 });
    expect(record.truncated).toBeUndefined();
  });

  it('never cuts a UTF-8 character in two', () => {
    const payload = Buffer.from('€'.repeat(3_000));
    const record = deadLetterRecord({ topic: 't', reason: 'schema', detail: 'd', payload }, 1_000);
    expect(record.encoding).toBe('utf8');
    expect(record.payload).toMatch(/^€+$/);
  });
});

describe('AckGate', () => {
  /** Stands in for mqtt.js: the one method the gate wraps, and whether the socket is up. */
  function fakeClient() {
    const sent: number[] = [];
    const client = {
      connected: true,
      _sendPacket(packet: { messageId: number }, cb?: () => void) {
        sent.push(packet.messageId);
        cb?.();
      },
    };
    const gate = new AckGate();
    gate.install(client as unknown as MqttClient);
    const puback = (messageId: number) => client._sendPacket({ cmd: 'puback', messageId } as never);
    return { client, gate, sent, puback };
  }

  it('keeps two messages holding one packet id apart: each PUBACK leaves only when its own batch is stored', () => {
    const { gate, sent, puback } = fakeClient();
    const first = gate.hold(7);
    puback(7);
    const second = gate.hold(7);
    puback(7);
    expect(gate.pending).toBe(2);
    first.release();
    expect(sent).toEqual([7]);
    expect(gate.pending).toBe(1);
    second.release();
    expect(sent).toEqual([7, 7]);
    expect(gate.pending).toBe(0);
  });

  it('sends no PUBACK while disconnected, where mqtt.js would queue it for the next connection', () => {
    const { client, gate, sent, puback } = fakeClient();
    const held = gate.hold(9);
    puback(9);
    client.connected = false;
    held.release();
    puback(10);
    expect(sent).toEqual([]);
  });

  it('drops acks held on a connection that has closed', () => {
    const { gate, sent, puback } = fakeClient();
    const held = gate.hold(3);
    puback(3);
    gate.disconnected();
    held.release();
    expect(sent).toEqual([]);
    expect(gate.pending).toBe(0);
  });
});

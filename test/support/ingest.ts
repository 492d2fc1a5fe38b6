import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { type Fleet, FleetIndex, fleetSchema } from '../../protocol/fleet.ts';
import { topics } from '../../protocol/topics.ts';
import { testTempDir } from './temp.ts';
import { type IngestConfig, ingestConfigSchema } from '../../ingest/config.ts';

export const CENTER = 'c1';
export const OTHER_CENTER = 'c2';
export const WEARABLES = ['w1', 'w2', 'w3', 'w4'];
/** BLE wearables in room r1 that reach MQTT only through gateway g1. */
export const BLE_WEARABLES = ['b1', 'b2', 'b3'];

/** A small registry: centre c1 with two rooms, wearables, a room sensor, an alarm button and a gateway. */
export function testFleet(): Fleet {
  return fleetSchema.parse({
    centers: [
      { id: CENTER, name: 'Centre one' },
      { id: OTHER_CENTER, name: 'Centre two' },
    ],
    rooms: [
      { id: 'r1', center: CENTER, name: 'Nap room 1' },
      { id: 'r2', center: CENTER, name: 'Nap room 2' },
      { id: 'r9', center: OTHER_CENTER, name: 'Other room' },
    ],
    infants: [...WEARABLES, ...BLE_WEARABLES].map((_device, i) => ({
      id: `i${i + 1}`,
      center: CENTER,
      room: 'r1',
      birthMonth: '2026-03',
      displayName: `Infant ${i + 1}`,
    })),
    devices: [
      ...[...WEARABLES, ...BLE_WEARABLES].map((id, i) => ({
        id,
        kind: 'wearable',
        center: CENTER,
        room: 'r1',
        infant: `i${i + 1}`,
      })),
      { id: 'w9', kind: 'wearable', center: CENTER, room: 'r2' },
      { id: 's1', kind: 'room', center: CENTER, room: 'r1' },
      { id: 'a1', kind: 'alarm', center: CENTER, room: 'r1' },
      { id: 'g1', kind: 'gateway', center: CENTER, room: 'r1' },
      { id: 'x1', kind: 'wearable', center: OTHER_CENTER, room: 'r9' },
    ],
  });
}

export function testFleetIndex(): FleetIndex {
  return new FleetIndex(testFleet());
}

export function writeFleetFile(dir: string): string {
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, stringify(testFleet()));
  return file;
}

export function tempDir(prefix = 'cw-ingest-'): string {
  return testTempDir(prefix);
}

let seq = 0;
let lastTs = 0;
/** Device time that never repeats in a run, so every generated reading is its own point. */
export function nextTs(): number {
  lastTs = Math.max(Date.now(), lastTs + 1);
  return lastTs;
}

/** A valid wearable reading. */
export function wearable(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    ts: nextTs(),
    seq,
    posture: 'supine',
    skinTempC: 36.2,
    motion: 0.3,
    worn: true,
    battery: 80,
    rssi: -60,
    ...overrides,
  };
}

export function roomReading(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return { ts: nextTs(), seq, tempC: 21.5, humidity: 45, co2ppm: 600, ...overrides };
}

/** Test config: temp dirs, HTTP on a free port, short batches. */
export function testConfig(
  influx: InfluxConnection,
  mqttUrl: string,
  overrides: Partial<Record<keyof IngestConfig, unknown>> = {},
): IngestConfig {
  const dir = tempDir();
  return ingestConfigSchema.parse({
    mqtt: {
      url: mqttUrl,
      clientId: `ingest-${Math.random().toString(36).slice(2, 8)}`,
      reconnectMinMs: 100,
      reconnectMaxMs: 1_000,
    },
    influx,
    spool: { dir: join(dir, 'spool') },
    deadletter: { dir: join(dir, 'deadletter') },
    http: { port: 0 },
    batch: { intervalMs: 50 },
    write: { maxRetries: 1, minRetryDelayMs: 100, maxRetryDelayMs: 1_000 },
    ...overrides,
  });
}

export async function publisher(
  url: string,
  clientId = `pub-${Math.random().toString(36).slice(2, 8)}`,
): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, protocolVersion: 4, reconnectPeriod: 0 });
}

export const deviceTopic = (device: string, center = CENTER) => topics.deviceTelemetry(center, device);
export const gatewayTopic = (gateway: string, center = CENTER) => topics.gatewayTelemetry(center, gateway);

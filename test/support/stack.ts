import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { brokerConfigSchema, type RunningBroker, startBroker } from '../../broker/index.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { hashPassword } from '../../lib/credentials.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freshInflux } from './influx.ts';
import { type RunningRules, rulesServiceConfigSchema, startRules } from '../../rules/index.ts';

const DEVICE_PASSWORD = 'device-secret-1';
const RULES_PASSWORD = 'rules-secret-1';
const OBSERVER_PASSWORD = 'observer-secret-1';
export const STACK_TOKENS = {
  a: 'caregiver-a-token-e2e-0001',
  b: 'caregiver-b-token-e2e-0002',
  supervisor: 'supervisor-token-e2e-0003',
};
// A cheap scrypt cost: these hashes only guard a test broker.
const hash = (password: string) => hashPassword(password, { N: 1024 });

function fleetDoc() {
  const deviceHash = hash(DEVICE_PASSWORD);
  return {
    centers: [
      { id: 'ca', name: 'Sunny Bay', nameZh: '阳光湾托育园', timezone: 'Asia/Shanghai' },
      { id: 'cb', name: 'River Park', timezone: 'Asia/Shanghai' },
    ],
    rooms: [
      { id: 'ca-r1', center: 'ca', name: 'Nap room 1', nameZh: '1 号睡眠室' },
      { id: 'cb-r1', center: 'cb', name: 'Nap room B1' },
    ],
    infants: [
      { id: 'a-07', center: 'ca', room: 'ca-r1', birthMonth: '2026-06', displayName: '王小明' },
      { id: 'a-08', center: 'ca', room: 'ca-r1', birthMonth: '2026-04', displayName: '李小红' },
      { id: 'b-01', center: 'cb', room: 'cb-r1', birthMonth: '2026-05', displayName: 'Lily' },
    ],
    devices: [
      { id: 'w-07', kind: 'wearable', center: 'ca', room: 'ca-r1', infant: 'a-07', passwordHash: deviceHash },
      { id: 'w-08', kind: 'wearable', center: 'ca', room: 'ca-r1', infant: 'a-08', passwordHash: deviceHash },
      { id: 'env-1', kind: 'room', center: 'ca', room: 'ca-r1', passwordHash: deviceHash },
      { id: 'btn-1', kind: 'alarm', center: 'ca', room: 'ca-r1', passwordHash: deviceHash },
    ],
  };
}

export interface Stack {
  broker: RunningBroker;
  rules: RunningRules;
  influx: InfluxConnection;
  /** An MQTT client with a supervisor account, to watch what the service publishes. */
  observer(): Promise<MqttClient>;
  /** Presses centre A's one-key alarm (MQTT, as the button); resolves with the wall-clock time of the press. */
  pressAlarm(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The real pipeline for end-to-end tests: our broker, the rules service with its HTTP server, the run's
 * InfluxDB, and simulated devices of centre A (two wearables on their backs, a room sensor, a one-key
 * alarm button), each on its own authenticated MQTT connection, reporting every second.
 */
export async function startStack(options: { channels?: Record<string, unknown> } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'cw-stack-'));
  const fleetFile = join(dir, 'fleet.yaml');
  writeFileSync(fleetFile, stringify(fleetDoc()));
  const broker = await startBroker(
    brokerConfigSchema.parse({
      port: 0,
      fleetFile,
      accounts: [
        { username: 'rules', passwordHash: hash(RULES_PASSWORD), role: 'rules' },
        { username: 'observer', passwordHash: hash(OBSERVER_PASSWORD), role: 'supervisor' },
      ],
    }),
    silentLogger,
  );
  const influx = await freshInflux();
  const rules = await startRules(
    rulesServiceConfigSchema.parse({
      mqtt: {
        url: broker.mqttUrl,
        username: 'rules',
        password: RULES_PASSWORD,
        clientId: `rules-${Date.now()}`,
      },
      fleetFile,
      journalDir: join(dir, 'journal'),
      influx,
      // A nap check every 3 s instead of 5 min, so a test nap yields a sheet.
      rules: { defaults: { napCheck: { underOneMin: 0.05 } } },
      http: {
        port: 0,
        tokens: [
          { token: STACK_TOKENS.a, role: 'caregiver', center: 'ca', name: '李老师' },
          { token: STACK_TOKENS.b, role: 'caregiver', center: 'cb', name: 'Ms Brown' },
          { token: STACK_TOKENS.supervisor, role: 'supervisor', name: '园长' },
        ],
      },
      channels: options.channels ?? {},
    }),
    silentLogger,
  );

  const device = (id: string): Promise<MqttClient> =>
    mqtt.connectAsync(broker.mqttUrl, {
      username: id,
      password: DEVICE_PASSWORD,
      clientId: id,
      reconnectPeriod: 500,
    });
  const clients = await Promise.all(['w-07', 'w-08', 'env-1', 'btn-1'].map(device));
  const [w07, w08, env, button] = clients as [MqttClient, MqttClient, MqttClient, MqttClient];
  let seq = 0;
  const publishReadings = () => {
    const ts = Date.now();
    seq += 1;
    for (const [client, id] of [
      [w07, 'w-07'],
      [w08, 'w-08'],
    ] as const) {
      const reading = {
        v: 1,
        ts,
        seq,
        posture: 'supine',
        skinTempC: 36.4,
        motion: 0.3,
        worn: true,
        battery: 76,
      };
      client.publish(`cw/v1/ca/devices/${id}/telemetry`, JSON.stringify(reading), { qos: 1 });
    }
    const room = { v: 1, ts, seq, tempC: 22.4, humidity: 48 };
    env.publish('cw/v1/ca/devices/env-1/telemetry', JSON.stringify(room), { qos: 1 });
  };
  publishReadings();
  const ticker = setInterval(publishReadings, 1_000);
  let presses = 0;

  return {
    broker,
    rules,
    influx,
    observer: () =>
      mqtt.connectAsync(broker.mqttUrl, {
        username: 'observer',
        clientId: `observer-${Math.random().toString(36).slice(2)}`,
        password: OBSERVER_PASSWORD,
        reconnectPeriod: 0,
      }),
    async pressAlarm() {
      presses += 1;
      const at = Date.now();
      const event = { v: 1, ts: at, seq: presses, event: 'pressed' };
      await button.publishAsync('cw/v1/ca/devices/btn-1/alarm', JSON.stringify(event), { qos: 1 });
      return at;
    },
    async close() {
      clearInterval(ticker);
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await rules.close();
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import type { Principal } from './acl.ts';
import { clientIdRefusal } from './identity.ts';
import {
  type BrokerProcess,
  SERVICE_USERS,
  type TestFleet,
  collect,
  connackCode,
  connect,
  connectCollecting,
  credentials,
  makeTestFleet,
  metric,
  spawnBroker,
} from '../test/support/broker.ts';
import { hostPort, mosquitto } from '../test/support/mosquitto.ts';
import { type RedisServer, startRedis } from '../test/support/redis.ts';

const M = 'cradlewatch_broker_';

describe('clientIdRefusal', () => {
  const names = new Set(['carer', 'carer-c2', 'w-1']);
  const isName = (n: string) => names.has(n);
  const carer: Principal = { type: 'service', username: 'carer', role: 'caregiver', center: 'c1' };
  const device: Principal = { type: 'device', id: 'w-1', center: 'c1', kind: 'wearable' };

  it('binds a device to its own id, and an account to its username and ids under it', () => {
    expect(clientIdRefusal(device, 'w-1', isName)).toBeNull();
    expect(clientIdRefusal(device, 'w-2', isName)).toBe('device must use its own id');
    expect(clientIdRefusal(device, '', isName)).toBe('device must use its own id');
    expect(clientIdRefusal(carer, 'carer', isName)).toBeNull();
    expect(clientIdRefusal(carer, 'carer-phone-1', isName)).toBeNull();
    expect(clientIdRefusal(carer, '', isName)).toBeNull();
    expect(clientIdRefusal(carer, 'carerx', isName)).toBe('not under the username');
    expect(clientIdRefusal(carer, 'cradlewatch-ingest', isName)).toBe('not under the username');
  });

  it('gives an id to the longest name that claims it', () => {
    expect(clientIdRefusal(carer, 'carer-c2', isName)).toBe('the client id of another principal');
    expect(clientIdRefusal(carer, 'carer-c2-phone', isName)).toBe('under another principal');
    expect(clientIdRefusal(carer, 'carer-c3-phone', isName)).toBeNull();
  });
});

describe.each(['single broker', 'Redis cluster'] as const)('identity bound to the session (%s)', (mode) => {
  let fleet: TestFleet;
  let redis: RedisServer | undefined;
  let a: BrokerProcess;
  let b: BrokerProcess;
  const opened: MqttClient[] = [];
  const started: BrokerProcess[] = [];
  const args = () => [
    '--fleet',
    fleet.fleetFile,
    '--config',
    fleet.configFile,
    ...(redis ? ['--redis', redis.url] : []),
  ];
  const open = async (url: string, username: string, clientId?: string, extra = {}) => {
    const client = await connect(url, { ...credentials(fleet, username, clientId), ...extra });
    opened.push(client);
    return client;
  };

  beforeAll(async () => {
    fleet = makeTestFleet();
    if (mode === 'Redis cluster') redis = await startRedis();
    const brokers = await Promise.all(
      mode === 'Redis cluster' ? [spawnBroker(args()), spawnBroker(args())] : [spawnBroker(args())],
    );
    started.push(...brokers);
    a = brokers[0]!;
    b = brokers.at(-1)!;
  });

  afterAll(async () => {
    for (const client of opened) client.end(true);
    await Promise.all(started.map((broker) => broker.stop()));
    await redis?.stop();
    fleet?.remove();
  });

  it("refuses a device's login under another device's client id; the device stays connected", async () => {
    const victim = await open(a.mqtt, fleet.ids.wearable);
    let closes = 0;
    victim.on('close', () => (closes += 1));
    const before = await metric(b.http, `${M}client_id_refusals_total`);
    const other = fleet.ids.wearable2;
    expect(await connackCode(b.mqtt, credentials(fleet, other, fleet.ids.wearable))).toBe(2);
    const sub = await mosquitto('mosquitto_sub', [
      ...hostPort(b.mqtt),
      ...['-u', other, '-P', fleet.passwords[other]!, '-i', fleet.ids.wearable, '-t', 'x', '-W', '5'],
    ]);
    expect(sub.code).not.toBe(0);
    expect(sub.stderr).toMatch(/identifier rejected/i);
    // The victim is still the connection of its id: it can publish, and was never closed.
    await victim.publishAsync(topics.deviceTelemetry('c1', fleet.ids.wearable), '{}', { qos: 1 });
    expect(closes).toBe(0);
    expect(await metric(b.http, `${M}client_id_refusals_total`)).toBe(before + 2);
  });

  it("refuses staff, another service and a device a service's client id; the service's queue reaches only it", async () => {
    const ingestId = SERVICE_USERS.ingest;
    const persistent = { ...credentials(fleet, ingestId), clean: false };
    const first = await connect(a.mqtt, persistent);
    await first.subscribeAsync('cw/v1/+/devices/+/telemetry', { qos: 1 });
    await first.endAsync();
    const perCentre = 20;
    const c1 = await open(a.mqtt, fleet.ids.wearable);
    const c2 = await open(a.mqtt, fleet.ids.wearable2);
    for (let i = 0; i < perCentre; i += 1) {
      await c1.publishAsync(topics.deviceTelemetry('c1', fleet.ids.wearable), `c1-${i}`, { qos: 1 });
      await c2.publishAsync(topics.deviceTelemetry('c2', fleet.ids.wearable2), `c2-${i}`, { qos: 1 });
    }
    const before = await metric(b.http, `${M}client_id_refusals_total`);
    const attempts = [
      credentials(fleet, SERVICE_USERS.caregiver, ingestId),
      credentials(fleet, SERVICE_USERS.rules, ingestId),
      credentials(fleet, SERVICE_USERS.supervisor, ingestId),
      credentials(fleet, fleet.ids.wearable, ingestId),
    ];
    for (const attempt of attempts) expect(await connackCode(b.mqtt, { ...attempt, clean: false })).toBe(2);
    const staff = await mosquitto('mosquitto_sub', [
      ...hostPort(b.mqtt),
      ...['-u', SERVICE_USERS.caregiver, '-P', fleet.passwords[SERVICE_USERS.caregiver]!],
      ...['-i', ingestId, '-c', '-q', '1', '-t', 'cw/v1/c1/alerts/+', '-W', '5', '-v'],
    ]);
    expect(staff.code).not.toBe(0);
    expect(staff.stdout).toBe('');
    expect(await metric(b.http, `${M}client_id_refusals_total`)).toBe(before + attempts.length + 1);

    const back = await connectCollecting(b.mqtt, persistent);
    opened.push(back.client);
    expect(back.sessionPresent).toBe(true);
    await back.got.waitFor(2 * perCentre, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(back.got.messages.length).toBe(2 * perCentre);
    expect(back.got.messages.filter((m) => m.payload.startsWith('c1-'))).toHaveLength(perCentre);
  });

  it("delivers no message of one centre to another centre's principal", async () => {
    const carer = await open(b.mqtt, SERVICE_USERS.caregiver, `${SERVICE_USERS.caregiver}-app`);
    const supervisor = await open(b.mqtt, SERVICE_USERS.supervisor);
    const wearable = await open(b.mqtt, fleet.ids.wearable);
    const carerGot = collect(carer);
    const supervisorGot = collect(supervisor);
    const wearableGot = collect(wearable);
    await carer.subscribeAsync('cw/v1/c1/alerts/+', { qos: 1 });
    await supervisor.subscribeAsync('cw/v1/+/alerts/+', { qos: 1 });
    // A device may subscribe to nothing: its SUBACK is 0x80.
    await wearable.subscribeAsync('cw/v1/#', { qos: 1 }).catch(() => {});
    const rules = await open(a.mqtt, SERVICE_USERS.rules);
    // Subscriptions reach the other node through Redis: probe until both readers see each centre.
    await waitFor(async () => {
      await rules.publishAsync(topics.alert('c1', 'probe'), 'probe', { qos: 1 });
      await rules.publishAsync(topics.alert('c2', 'probe'), 'probe', { qos: 1 });
      return carerGot.messages.length > 0 && new Set(supervisorGot.messages.map((m) => m.topic)).size === 2;
    });
    carerGot.messages.length = 0;
    supervisorGot.messages.length = 0;
    const perCentre = 25;
    for (let i = 0; i < perCentre; i += 1) {
      await rules.publishAsync(topics.alert('c1', `a${i}`), `c1-${i}`, { qos: 1 });
      await rules.publishAsync(topics.alert('c2', `a${i}`), `c2-${i}`, { qos: 1 });
    }
    await waitFor(() => supervisorGot.messages.filter((m) => m.payload !== 'probe').length >= 2 * perCentre);
    await new Promise((r) => setTimeout(r, 300));
    const carerReal = carerGot.messages.filter((m) => m.payload !== 'probe');
    expect(carerReal).toHaveLength(perCentre);
    expect(carerReal.every((m) => m.topic.startsWith('cw/v1/c1/'))).toBe(true);
    expect(wearableGot.messages).toHaveLength(0);
  });

  // Only a shared store outlives a broker, so only there can an identity change under a stored session.
  if (mode === 'Redis cluster')
    it('discards a stored session made under another identity (a caregiver moved to another centre)', async () => {
      const carerId = `${SERVICE_USERS.caregiver}-tablet`;
      const options = { ...credentials(fleet, SERVICE_USERS.caregiver, carerId), clean: false };
      const first = await connect(a.mqtt, options);
      await first.subscribeAsync('cw/v1/c1/alerts/+', { qos: 1 });
      await first.endAsync();
      const rules = await open(a.mqtt, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-moved`);
      const queued = 10;
      for (let i = 0; i < queued; i += 1) {
        await rules.publishAsync(topics.alert('c1', `m${i}`), `queued-${i}`, { qos: 1 });
      }
      // The same username, now a caregiver of c2, on a broker sharing the same Redis.
      const moved = fleet.accounts.map((account) =>
        account.username === SERVICE_USERS.caregiver ? { ...account, center: 'c2' } : account,
      );
      const movedConfig = join(fleet.dir, 'moved.yaml');
      writeFileSync(movedConfig, stringify({ accounts: moved }));
      const c = await spawnBroker([
        '--fleet',
        fleet.fleetFile,
        '--config',
        movedConfig,
        '--redis',
        redis!.url,
      ]);
      started.push(c);
      const back = await connectCollecting(c.mqtt, options);
      opened.push(back.client);
      expect(back.sessionPresent).toBe(false);
      await new Promise((r) => setTimeout(r, 500));
      expect(back.got.messages).toHaveLength(0);
      expect(await metric(c.http, `${M}sessions_discarded_total`)).toBe(1);
      // From then on the session is its own and persistent again.
      await back.client.subscribeAsync('cw/v1/c2/alerts/+', { qos: 1 });
      await back.client.endAsync();
      const again = await connectCollecting(c.mqtt, options);
      opened.push(again.client);
      expect(again.sessionPresent).toBe(true);
    });
});

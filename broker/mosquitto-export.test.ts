import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeFleetFiles, generateFleet } from '../device-sim/fleet-gen.ts';
import { readFleet } from '../lib/fleet-file.ts';
import { silentLogger } from '../lib/logger.ts';
import { runSimulation } from '../device-sim/run.ts';
import { type Ingest, startIngest } from '../ingest/service.ts';
import { testConfig } from '../ingest/test/fixtures.ts';
import { countPoints, freshInflux } from '../test/support/influx.ts';
import { waitFor } from '../lib/net.ts';
import { FleetIndex } from '../protocol/fleet.ts';
import { topics } from '../protocol/topics.ts';
import { type RunningMosquitto, startMosquitto } from '../test/support/mosquitto.ts';
import { testTempDir } from '../test/support/temp.ts';
import {
  buildMosquittoExport,
  type ExportAccount,
  mosquittoHash,
  readExportAccounts,
  writeMosquittoExport,
} from './mosquitto-export.ts';
import { canPublish, canSubscribe, type Principal } from './acl.ts';
import { OperatorAcl } from './acl-file.ts';

const dir = testTempDir('cw-mosq-export-');
const BIN = join(import.meta.dirname, '..', 'bin', 'cradlewatch.mjs');

// Two centres of one room each: rs-c1-r1, ab-c1-r1, w-c1-r1-i1 and the same in c2.
const generated = generateFleet({
  centers: 2,
  roomsPerCenter: 1,
  infantsPerRoom: 1,
  gateways: false,
  seed: 17,
  hashCost: 1024,
  referenceMonth: '2026-12',
});
const accounts: ExportAccount[] = [
  { username: 'ingest', password: 'ingest-secret', role: 'ingest' },
  { username: 'rules', password: 'rules-secret', role: 'rules' },
  { username: 'carer-c1', password: 'carer-secret', role: 'caregiver', center: 'c1' },
];
const fleetFile = join(dir, 'fleet.yaml');
writeFleetFiles(generated, fleetFile, join(dir, 'fleet.credentials.yaml'));

const clients: MqttClient[] = [];

function login(url: string, username: string, password: string): Promise<MqttClient> {
  return mqtt
    .connectAsync(url, { username, password, protocolVersion: 4, reconnectPeriod: 0, clean: true })
    .then((client) => {
      clients.push(client);
      return client;
    });
}

/** Every message a client receives, in order. */
function collect(client: MqttClient): { topic: string; payload: string }[] {
  const seen: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  return seen;
}

describe('password_file hashes', () => {
  it("match mosquitto_passwd's for the same password and salt", () => {
    const file = join(dir, 'reference_passwd');
    execFileSync('mosquitto_passwd', ['-c', '-b', file, 'someone', 'a clear password']);
    const line = readFileSync(file, 'utf8').trim();
    const [, , iterations, salt] = line.split('$') as [string, string, string, string, string];
    expect(line.startsWith('someone:$7$101$')).toBe(true);
    expect(`someone:${mosquittoHash('a clear password', Buffer.from(salt, 'base64'))}`).toBe(line);
    expect(iterations).toBe('101');
  });
});

describe('broker export on a real mosquitto with auth on', () => {
  let broker: RunningMosquitto;
  const pw = (id: string) => generated.credentials[id]!;

  beforeAll(async () => {
    const exported = await buildMosquittoExport(readFleet(fleetFile), generated.credentials, accounts);
    expect(exported.leftOut).toEqual([]);
    const files = writeMosquittoExport(exported, join(dir, 'mosquitto'));
    broker = await startMosquitto('unlimited', files);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker?.stop();
  });

  it("a device's reading reaches ingest; a wrong password is refused", async () => {
    const ingest = await login(broker.url, 'ingest', 'ingest-secret');
    const seen = collect(ingest);
    await ingest.subscribeAsync('cw/v1/+/devices/+/telemetry', { qos: 1 });
    const sensor = await login(broker.url, 'rs-c1-r1', pw('rs-c1-r1'));
    await sensor.publishAsync(topics.deviceTelemetry('c1', 'rs-c1-r1'), 'reading-1', { qos: 1 });
    await waitFor(() => seen.length === 1, { what: 'the reading at ingest' });
    expect(seen).toEqual([{ topic: 'cw/v1/c1/devices/rs-c1-r1/telemetry', payload: 'reading-1' }]);

    const refused = await login(broker.url, 'rs-c1-r1', `${pw('rs-c1-r1')}x`).catch((e) => e);
    expect([4, 5]).toContain((refused as { code: number }).code);
    const other = await login(broker.url, 'rs-c1-r1', pw('rs-c2-r1')).catch((e) => e);
    expect([4, 5]).toContain((other as { code: number }).code);
  });

  it("a device publishing on another device's topic gets nothing through", async () => {
    const ingest = await login(broker.url, 'ingest', 'ingest-secret');
    const seen = collect(ingest);
    await ingest.subscribeAsync(['cw/v1/+/devices/+/telemetry', 'cw/v1/+/devices/+/alarm'], { qos: 1 });
    // Another device of its centre, its own id's slot in another centre, and an alarm it is not. mosquitto
    // acknowledges a refused QoS 1 publish and drops it (2.0.11 then closed this 3.1.1 connection at its next
    // packet), so each attempt gets a connection of its own; a PUBACK means mosquitto has decided.
    const attempts = [
      topics.deviceTelemetry('c1', 'rs-c1-r1'),
      topics.deviceTelemetry('c2', 'w-c1-r1-i1'),
      topics.deviceAlarm('c1', 'ab-c1-r1'),
    ];
    for (const [i, topic] of attempts.entries()) {
      const spoofer = await login(broker.url, 'w-c1-r1-i1', pw('w-c1-r1-i1'));
      await spoofer.publishAsync(topic, `spoof-${i}`, { qos: 1 });
      await spoofer.endAsync();
    }
    const device = await login(broker.url, 'w-c1-r1-i1', pw('w-c1-r1-i1'));
    await device.publishAsync(topics.deviceTelemetry('c1', 'w-c1-r1-i1'), 'own', { qos: 1 });
    await waitFor(() => seen.some((m) => m.payload === 'own'), { what: "the spoofer's own reading" });
    expect(seen).toEqual([{ topic: 'cw/v1/c1/devices/w-c1-r1-i1/telemetry', payload: 'own' }]);
  });

  it('a caregiver of c1 cannot read centre c2', async () => {
    const carer = await login(broker.url, 'carer-c1', 'carer-secret');
    const seen = collect(carer);
    await carer.subscribeAsync(['cw/v1/c2/alerts/+', 'cw/v1/+/alerts/+', 'cw/v1/c1/alerts/+'], { qos: 1 });
    const rules = await login(broker.url, 'rules', 'rules-secret');
    await rules.publishAsync(topics.alert('c2', 'a-c2'), 'alert-c2', { qos: 1 });
    await rules.publishAsync(topics.alert('c1', 'a-c1'), 'alert-c1', { qos: 1 });
    await waitFor(() => seen.some((m) => m.payload === 'alert-c1'), { what: 'the c1 alert' });
    // Every delivery, through any of the three filters, is of c1's alert.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((m) => m.payload !== 'alert-c1')).toEqual([]);
  });
});

describe('the simulator and ingest on the exported mosquitto', () => {
  let broker: RunningMosquitto;
  let ingest: Ingest | undefined;

  afterAll(async () => {
    await ingest?.close();
    await broker?.stop();
  });

  it('stores every reading the devices had acknowledged, each device under its own login', async () => {
    const exported = await buildMosquittoExport(readFleet(fleetFile), generated.credentials, accounts);
    broker = await startMosquitto('unlimited', writeMosquittoExport(exported, join(dir, 'pipeline')));
    const influx = await freshInflux();
    const config = testConfig(influx, broker.url, { maxClockSkewMs: 'off' });
    ingest = await startIngest(
      { ...config, mqtt: { ...config.mqtt, username: 'ingest', password: 'ingest-secret' } },
      silentLogger,
      { fleet: new FleetIndex(generated.fleet) },
    );
    await waitFor(() => ingest!.centers().length > 0, { what: 'ingest subscribed' });
    const summary = await runSimulation({
      fleet: generated.fleet,
      credentials: generated.credentials,
      startTime: Date.parse('2026-12-01T10:00:00Z'),
      durationMs: 60_000,
      speed: 'max',
      url: broker.url,
    }).done;
    expect(summary.refusedConnects).toBe(0);
    expect(summary.errors).toBe(0);
    expect(summary.readingsAcked).toBeGreaterThan(0);
    const stored = async () =>
      (await countPoints(influx, 'wearable', 'seq')) + (await countPoints(influx, 'room_env', 'temp'));
    await waitFor(async () => (await stored()) >= summary.readingsAcked, {
      what: `${summary.readingsAcked} points`,
    });
    await ingest.flush();
    expect(await stored()).toBe(summary.readingsAcked);
  });
});

describe('acl_file', () => {
  it("grants on every topic of the layout exactly what the registry's ACL grants", async () => {
    // With gateways too; their wearables have no password and cannot log in anywhere.
    const withGateways = generateFleet({
      centers: 2,
      roomsPerCenter: 1,
      infantsPerRoom: 1,
      gateways: true,
      seed: 17,
      hashCost: 1024,
      referenceMonth: '2026-12',
    });
    const fleet = new FleetIndex(withGateways.fleet);
    const supervisor: ExportAccount = { username: 'super', password: 's', role: 'supervisor' };
    const simulator: ExportAccount = { username: 'sim', password: 's', role: 'simulator' };
    const all = [...accounts, supervisor, simulator];
    const exported = await buildMosquittoExport(fleet, withGateways.credentials, all);
    const acl = OperatorAcl.parse(exported.aclFile);
    const principals: [string, Principal][] = [
      ...withGateways.fleet.devices
        .filter((d) => d.passwordHash !== undefined)
        .map((d): [string, Principal] => [
          d.id,
          { type: 'device', id: d.id, center: d.center, kind: d.kind },
        ]),
      ...all.map((a): [string, Principal] => [
        a.username,
        { type: 'service', username: a.username, role: a.role, center: a.center },
      ]),
    ];
    expect(exported.included.sort()).toEqual(principals.map(([name]) => name).sort());
    const layout = ['c1', 'c2'].flatMap((c) => [
      ...withGateways.fleet.devices.flatMap((d) => [
        topics.deviceTelemetry(c, d.id),
        topics.deviceAlarm(c, d.id),
        topics.deviceStatus(c, d.id),
        topics.gatewayTelemetry(c, d.id),
        topics.gatewayStatus(c, d.id),
        topics.deadletter(c, d.id),
      ]),
      ...withGateways.fleet.rooms.map((r) => topics.nap(c, r.id)),
      topics.alert(c, 'a1'),
      topics.alertAck(c, 'a1'),
      topics.alertResolve(c, 'a1'),
      topics.alertTransition(c, 'a1'),
    ]);
    const differences: string[] = [];
    let granted = 0;
    for (const [username, who] of principals) {
      for (const topic of layout) {
        const subject = { username, clientId: username };
        const [write, read] = [canPublish(who, topic), canSubscribe(who, topic)];
        granted += Number(write) + Number(read);
        if (acl.decide(subject, topic, 'write', false) !== write)
          differences.push(`${username} write ${topic}`);
        if (acl.decide(subject, topic, 'read', false) !== read) differences.push(`${username} read ${topic}`);
      }
    }
    expect(differences).toEqual([]);
    expect(granted).toBeGreaterThan(0);
  });
});

describe('accounts file', () => {
  it('refuses a caregiver without a centre, naming the field', () => {
    const file = join(dir, 'bad-accounts.yaml');
    writeFileSync(file, stringify({ accounts: [{ username: 'carer', password: 'x', role: 'caregiver' }] }));
    expect(() => readExportAccounts(file)).toThrow(/accounts\.0\.center.*needs a center/);
  });
});

describe('accounts', () => {
  it('refuses a username given twice or already a device', async () => {
    const fleet = readFleet(fleetFile);
    const twice = [accounts[0]!, { ...accounts[0]!, role: 'rules' as const }];
    await expect(buildMosquittoExport(fleet, generated.credentials, twice)).rejects.toThrow(
      /ingest is named twice/,
    );
    const device = [{ username: 'rs-c1-r1', password: 'p', role: 'supervisor' as const }];
    await expect(buildMosquittoExport(fleet, generated.credentials, device)).rejects.toThrow(
      /rs-c1-r1 is named twice/,
    );
  });
});

describe('cradlewatch broker export', () => {
  it('leaves out devices without a matching clear password and names them on stderr', async () => {
    const credentials = { ...generated.credentials };
    delete credentials['rs-c2-r1'];
    credentials['ab-c2-r1'] = 'not-its-password';
    const credentialsFile = join(dir, 'partial.credentials.yaml');
    writeFileSync(credentialsFile, stringify({ devices: credentials }), { mode: 0o600 });
    const accountsFile = join(dir, 'accounts.yaml');
    writeFileSync(accountsFile, stringify({ accounts }), { mode: 0o600 });
    const out = join(dir, 'cli-export');
    const { stdout, stderr } = await promisify(execFile)('node', [
      BIN,
      ...['broker', 'export', '--format', 'mosquitto', '--fleet', fleetFile],
      ...['--credentials', credentialsFile, '--accounts', accountsFile, '--out', out],
    ]);
    expect(stderr).toContain('left out ab-c2-r1: password-mismatch');
    expect(stderr).toContain('left out rs-c2-r1: no-password');
    expect(stdout).toContain('7 logins, 2 left out');
    const users = readFileSync(join(out, 'password_file'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(':')[0]);
    expect(users.sort()).toEqual(
      ['ab-c1-r1', 'carer-c1', 'ingest', 'rs-c1-r1', 'rules', 'w-c1-r1-i1', 'w-c2-r1-i1'].sort(),
    );
    expect(readFileSync(join(out, 'acl_file'), 'utf8')).not.toContain('user rs-c2-r1');
    expect(statSync(join(out, 'password_file')).mode & 0o777).toBe(0o600);
  });
});

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
import { runSimulation, type SimSummary } from '../device-sim/run.ts';
import { parseScenario } from '../device-sim/scenario.ts';
import { rulesServiceConfigSchema } from '../rules/config.ts';
import { type RunningRules, startRules } from '../rules/service.ts';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { type Ingest, startIngest } from '../ingest/service.ts';
import { testConfig } from '../test/support/ingest.ts';
import { countPoints, freshInflux } from '../test/support/influx.ts';
import { waitFor } from '../lib/net.ts';
import { FleetIndex } from '../protocol/fleet.ts';
import { filters, parseTopic, topics } from '../protocol/topics.ts';
import type { Alert } from '../protocol/payloads.ts';
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

// Two centres of one room each: rs-c1-r1, ab-c1-r1 (its alarm button), w-c1-r1-i1 and the same in c2.
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
  { username: 'carer-c2', password: 'carer-secret', role: 'caregiver', center: 'c2' },
];
const fleetFile = join(dir, 'fleet.yaml');
writeFleetFiles(generated, fleetFile, join(dir, 'fleet.credentials.yaml'));

const clients: MqttClient[] = [];
const pw = (id: string) => generated.credentials[id]!;

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

  beforeAll(async () => {
    const exported = await buildMosquittoExport(readFleet(fleetFile), generated.credentials, accounts);
    expect(exported.leftOut).toEqual([]);
    const files = writeMosquittoExport(exported, join(dir, 'mosquitto'));
    broker = await startMosquitto('unlimited', files);
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
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

describe('the simulator, ingest and rules on the exported mosquitto', () => {
  let broker: RunningMosquitto;
  let ingest: Ingest | undefined;
  let rules: RunningRules | undefined;
  let influx: InfluxConnection;
  let summary: SimSummary;
  /** Each centre's caregiver, and what it received through every filter it tried. */
  const staff = {} as Record<'c1' | 'c2', { client: MqttClient; seen: { topic: string; payload: string }[] }>;
  const alarmOf = (button: string) =>
    rules!.alerts.list().find((a) => a.rule === 'one-key-alarm' && a.subject.id === button);
  /** The caregiver's copies of a button's alarm, from its retained alert topic. */
  const seenAlarms = (center: 'c1' | 'c2', button: string): Alert[] =>
    staff[center].seen
      .filter((m) => parseTopic(m.topic)?.kind === 'alert' && m.payload !== '')
      .map((m) => JSON.parse(m.payload) as Alert)
      .filter((a) => a.rule === 'one-key-alarm' && a.subject.id === button);

  beforeAll(async () => {
    const exported = await buildMosquittoExport(readFleet(fleetFile), generated.credentials, accounts);
    broker = await startMosquitto('unlimited', writeMosquittoExport(exported, join(dir, 'pipeline')));
    influx = await freshInflux();
    const config = testConfig(influx, broker.url, { maxClockSkewMs: 'off' });
    ingest = await startIngest(
      { ...config, mqtt: { ...config.mqtt, username: 'ingest', password: 'ingest-secret' } },
      silentLogger,
      { fleet: new FleetIndex(generated.fleet) },
    );
    await waitFor(() => ingest!.centers().length > 0, { what: 'ingest subscribed' });
    // mosquitto grants every SUBSCRIBE and checks read rights per message, so a read line the rules lack
    // shows only as input that never arrives: each of its inputs is checked below. Reminders and silence
    // are pushed out of the test's way, so each press is exactly one notification.
    rules = await startRules(
      rulesServiceConfigSchema.parse({
        mqtt: { url: broker.url, clientId: 'rules', username: 'rules', password: 'rules-secret' },
        fleetFile,
        journalDir: join(dir, 'rules-journal'),
        maxClockSkewMs: 'off',
        rules: {
          defaults: {
            monitoringLost: { silenceS: 3600 },
            lifecycle: { reminderS: { critical: 3600 }, escalateS: { critical: 3600 } },
          },
        },
        http: { port: 0 },
        channels: { history: { enabled: false } },
      }),
      silentLogger,
    );
    for (const center of ['c1', 'c2'] as const) {
      const client = await login(broker.url, `carer-${center}`, 'carer-secret');
      staff[center] = { client, seen: collect(client) };
      const other = center === 'c1' ? 'c2' : 'c1';
      await client.subscribeAsync(
        [filters.alerts(center), filters.alerts(), filters.alerts(other), filters.alertTransitions()],
        { qos: 1 },
      );
      await client.subscribeAsync([filters.nap(center), filters.nap(other)], { qos: 1 });
    }
    summary = await runSimulation({
      fleet: generated.fleet,
      credentials: generated.credentials,
      scenario: parseScenario({
        name: 'mosquitto-presses',
        description: 'One press of the alarm button in each centre.',
        duration: '1m',
        events: [
          { at: '20s', alarm: 'c1-r1' },
          { at: '40s', alarm: 'c2-r1' },
        ],
      }),
      startTime: Date.parse('2026-12-01T10:00:00Z'),
      speed: 'max',
      url: broker.url,
    }).done;
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await rules?.close();
    await ingest?.close();
    await broker?.stop();
  });

  it('stores every reading the devices had acknowledged, each device under its own login; the rules read them', async () => {
    expect(summary.refusedConnects).toBe(0);
    expect(summary.errors).toBe(0);
    expect(summary.readingsAcked).toBeGreaterThan(0);
    const stored = async () =>
      (await countPoints(influx, 'wearable', 'seq')) + (await countPoints(influx, 'room_env', 'temp'));
    await waitFor(async () => (await stored()) >= summary.readingsAcked, {
      what: `${summary.readingsAcked} points`,
    });
    await ingest!.flush();
    expect(await stored()).toBe(summary.readingsAcked);
    // The room sensor's and the wearable's readings are on c1's board.
    const [room] = rules!.board.rooms('c1');
    expect(room?.tempC).toBeDefined();
    expect(room?.infants[0]?.lastReadingAt).toBeDefined();
  });

  it("a button's press is a one-key alarm on its centre's alert topic; its caregiver acknowledges it", async () => {
    await waitFor(() => seenAlarms('c1', 'ab-c1-r1').length > 0, { what: "c1's alarm at its caregiver" });
    await waitFor(() => seenAlarms('c2', 'ab-c2-r1').length > 0, { what: "c2's alarm at its caregiver" });
    const raised = seenAlarms('c1', 'ab-c1-r1')[0]!;
    expect(raised).toMatchObject({ center: 'c1', room: 'c1-r1', severity: 'critical', state: 'raised' });
    expect(staff.c1.seen.map((m) => m.topic)).toContain(topics.alert('c1', raised.id));

    const ack = JSON.stringify({ by: 'carer-c1', ts: Date.now() });
    await staff.c1.client.publishAsync(topics.alertAck('c1', raised.id), ack, { qos: 1 });
    await waitFor(() => seenAlarms('c1', 'ab-c1-r1').some((a) => a.state === 'acknowledged'), {
      what: 'the acknowledgement back from the rules',
    });
    expect(alarmOf('ab-c1-r1')).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'carer-c1' });
  });

  it("a caregiver's nap start reaches the rules; the rules' nap end reaches the caregiver", async () => {
    const nap = JSON.stringify({ v: 1, ts: Date.now(), state: 'started', by: 'carer-c1' });
    await staff.c1.client.publishAsync(topics.nap('c1', 'c1-r1'), nap, { qos: 1, retain: true });
    const napping = () => rules!.board.rooms('c1').find((r) => r.room === 'c1-r1')?.napping;
    await waitFor(() => napping() === true, { what: 'the nap at the rules' });
    await rules!.board.setNap('c1', 'c1-r1', 'ended', 'head-teacher');
    expect(napping()).toBe(false);
    await waitFor(
      () =>
        staff.c1.seen.some(
          (m) => m.topic === topics.nap('c1', 'c1-r1') && JSON.parse(m.payload).by === 'head-teacher',
        ),
      { what: "the rules' nap end at the caregiver" },
    );
  });

  it("a device publishing an alarm on another device's topic raises nothing; no caregiver sees another centre", async () => {
    const before = alarmOf('ab-c1-r1')!;
    expect(before.notifications).toBe(1);
    // A wearable of the button's centre and the button of the other centre press as ab-c1-r1, each on a
    // connection of its own (mosquitto acknowledges and drops a refused publish). Distinct timestamps: the
    // rules would not take one press for a redelivery of another.
    const spoofers = ['w-c1-r1-i1', 'ab-c2-r1'];
    for (const [i, id] of spoofers.entries()) {
      const spoofer = await login(broker.url, id, pw(id));
      const press = JSON.stringify({ v: 1, ts: Date.now() + i, seq: 900 + i, event: 'pressed' });
      await spoofer.publishAsync(topics.deviceAlarm('c1', 'ab-c1-r1'), press, { qos: 1 });
      await spoofer.endAsync();
    }
    // Then ab-c2-r1 presses as itself. The rules read all presses on one session, in the order mosquitto
    // took them, so once this press is handled a spoofed one would have been too: it would have re-opened
    // ab-c1-r1's acknowledged alarm.
    const button = await login(broker.url, 'ab-c2-r1', pw('ab-c2-r1'));
    const press = JSON.stringify({ v: 1, ts: Date.now() + spoofers.length, seq: 1, event: 'pressed' });
    await button.publishAsync(topics.deviceAlarm('c2', 'ab-c2-r1'), press, { qos: 1 });
    await waitFor(() => seenAlarms('c2', 'ab-c2-r1').some((a) => a.notifications === 2), {
      what: "the second press of ab-c2-r1 at c2's caregiver",
    });
    expect(alarmOf('ab-c1-r1')).toEqual(before);
    expect(
      rules!.alerts
        .list()
        .filter((a) => a.rule === 'one-key-alarm')
        .map((a) => a.subject.id)
        .sort(),
    ).toEqual(['ab-c1-r1', 'ab-c2-r1']);
    // c1's alarm and nap went out before c2's second press: had c2's caregiver been able to read them, they
    // would be here.
    const centres = (center: 'c1' | 'c2') => new Set(staff[center].seen.map((m) => m.topic.split('/')[2]));
    expect(centres('c2')).toEqual(new Set(['c2']));
    expect(centres('c1')).toEqual(new Set(['c1']));
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
    expect(stdout).toContain('8 logins, 2 left out');
    const users = readFileSync(join(out, 'password_file'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(':')[0]);
    expect(users.sort()).toEqual(
      ['ab-c1-r1', 'carer-c1', 'carer-c2', 'ingest', 'rs-c1-r1', 'rules', 'w-c1-r1-i1', 'w-c2-r1-i1'].sort(),
    );
    expect(readFileSync(join(out, 'acl_file'), 'utf8')).not.toContain('user rs-c2-r1');
    expect(statSync(join(out, 'password_file')).mode & 0o777).toBe(0o600);
  });
});

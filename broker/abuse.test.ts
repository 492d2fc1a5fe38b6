import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../lib/credentials.ts';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';
import { AccountConnections, AddressGate, Qos2Budget } from './account-limits.ts';
import { type BrokerConfig, brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import {
  SERVICE_USERS,
  type TestFleet,
  connackCode,
  connect,
  connectPacket,
  credentials,
  makeTestFleet,
  metric,
  rawClient,
} from '../test/support/broker.ts';

const M = 'cradlewatch_broker_';

describe('account limits (units)', () => {
  it('counts open connections per account, not the one a takeover replaces', () => {
    const limits = new AccountConnections<string>(2, 100, 100);
    expect(limits.admit('a', 'c1', undefined)).toBeNull();
    expect(limits.admit('a', 'c2', undefined)).toBeNull();
    expect(limits.admit('a', 'c3', undefined)).toBe('connections');
    expect(limits.admit('a', 'c3', 'c1')).toBeNull();
    expect(limits.admit('b', 'c4', undefined)).toBeNull();
    limits.closed('a', 'c1');
    limits.closed('a', 'c2');
    expect(limits.admit('a', 'c5', undefined)).toBeNull();
  });

  it('spends a token bucket per account', () => {
    const limits = new AccountConnections<number>(100, 1, 3);
    const at = 1_000_000;
    const results = [1, 2, 3, 4].map((c) => limits.admit('a', c, undefined, at));
    expect(results).toEqual([null, null, null, 'rate']);
    expect(limits.admit('b', 9, undefined, at)).toBeNull();
    expect(limits.admit('a', 5, undefined, at + 1_000)).toBeNull();
  });

  it('lets an address run a bounded number of checks, queue a bounded number, and refuses the rest', async () => {
    const gate = new AddressGate(1, 1);
    const first = await gate.enter('x');
    let secondIn = false;
    const second = gate.enter('x').then((release) => {
      secondIn = true;
      return release;
    });
    expect(await gate.enter('x')).toBeNull();
    const other = await gate.enter('y');
    expect(other).not.toBeNull();
    expect(secondIn).toBe(false);
    first!();
    (await second)!();
    other!();
    expect(secondIn).toBe(true);
  });

  it('holds QoS 2 messages per account across client ids, lets DUPs through and frees on release', () => {
    const budget = new Qos2Budget(2);
    expect(budget.admit('acct', 'acct-1', 1)).toBe(true);
    expect(budget.admit('acct', 'acct-2', 1)).toBe(true);
    budget.stored('acct-1', 1);
    expect(budget.admit('acct', 'acct-3', 1)).toBe(false);
    expect(budget.admit('acct', 'acct-1', 1)).toBe(true);
    expect(budget.admit('other', 'other', 1)).toBe(true);
    // A closed connection frees what it never stored; PUBREL frees one; a clean start frees all.
    budget.released('acct-2', 'pending');
    expect(budget.held('acct')).toBe(1);
    budget.released('acct-1', 1);
    expect(budget.held('acct')).toBe(0);
    expect(budget.admit('acct', 'acct-1', 2)).toBe(true);
    budget.stored('acct-1', 2);
    budget.released('acct-1', 'all');
    expect(budget.held('acct')).toBe(0);
  });
});

describe('per-account and per-address limits against real clients', () => {
  let fleet: TestFleet;
  let broker: RunningBroker | undefined;
  // A password check that costs real scrypt time, so parallel guesses overlap at the broker.
  const slowUser = 'slow-staff';
  const start = async (limits: Partial<BrokerConfig['limits']>) => {
    const accounts = [
      ...fleet.accounts,
      { username: slowUser, role: 'supervisor', passwordHash: hashPassword('slow-pw', { N: 16_384 }) },
    ];
    broker = await startBroker(
      brokerConfigSchema.parse({ port: 0, httpPort: 0, accounts, limits }),
      silentLogger,
      { fleet: fleet.fleet },
    );
    return broker;
  };

  beforeAll(() => {
    fleet = makeTestFleet();
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  afterAll(() => fleet?.remove());

  it("refuses an account's connections past its maximum with CONNACK 3, and another account still gets in", async () => {
    const b = await start({ connectionsPerAccount: 3 });
    const user = SERVICE_USERS.supervisor;
    const codes = [];
    const held = [];
    for (let i = 0; i < 8; i += 1) {
      const options = credentials(fleet, user, `${user}-${i}`);
      try {
        held.push(await connect(b.mqttUrl, options));
        codes.push(0);
      } catch (error) {
        codes.push((error as { code: number }).code);
      }
    }
    expect(codes.filter((c) => c === 0)).toHaveLength(3);
    expect(codes.filter((c) => c === 3)).toHaveLength(5);
    expect(await metric(b.httpUrl!, `${M}account_limit_refusals_total`, { limit: 'connections' })).toBe(5);
    // The device whose slots the issue saw taken by one account connects at once.
    expect(await connackCode(b.mqttUrl, credentials(fleet, fleet.ids.wearable))).toBe(0);
    // A takeover of one's own client id is not a new connection.
    expect(await connackCode(b.mqttUrl, credentials(fleet, user, `${user}-0`))).toBe(0);
    await Promise.all(held.map((c) => c.endAsync()));
  });

  it("refuses one account's reconnect storm past its rate, and no other account's login", async () => {
    const b = await start({ connectRatePerAccount: 1, connectBurstPerAccount: 5 });
    const device = fleet.ids.roomSensor;
    const startedAt = Date.now();
    const codes: number[] = [];
    for (let i = 0; i < 30; i += 1) codes.push(await connackCode(b.mqttUrl, credentials(fleet, device)));
    const seconds = (Date.now() - startedAt) / 1000;
    const accepted = codes.filter((c) => c === 0).length;
    // The bucket's own arithmetic: its burst plus what refilled while the storm ran.
    expect(accepted).toBeLessThanOrEqual(5 + Math.ceil(seconds));
    expect(codes.filter((c) => c === 3).length).toBe(30 - accepted);
    expect(await metric(b.httpUrl!, `${M}account_limit_refusals_total`, { limit: 'rate' })).toBe(
      30 - accepted,
    );
    expect(await connackCode(b.mqttUrl, credentials(fleet, fleet.ids.wearable))).toBe(0);
  });

  it('backs off failed logins per username and address only; other accounts and addresses are answered undelayed', async () => {
    const b = await start({ authFailuresBeforeDelay: 3, authFailureDelayMs: 20 });
    const victim = fleet.ids.wearable;
    const guess = async (from: string, username: string, password: string, clientId = username) => {
      const raw = await rawClient(b.mqttUrl, from);
      raw.send(connectPacket({ clientId, username, password: Buffer.from(password) }));
      const code = await raw.connack();
      raw.socket.destroy();
      return code;
    };
    for (let i = 0; i < 6; i += 1) expect(await guess('127.0.0.1', victim, `wrong-${i}`)).toBe(4);
    const delays = await metric(b.httpUrl!, `${M}login_delays_total`);
    expect(delays).toBe(3);
    // Another account from the attacker's address, and the attacked account from another address.
    expect(await guess('127.0.0.1', fleet.ids.wearable2, fleet.passwords[fleet.ids.wearable2]!)).toBe(0);
    expect(await guess('127.0.0.2', victim, fleet.passwords[victim]!)).toBe(0);
    expect(await metric(b.httpUrl!, `${M}login_delays_total`)).toBe(delays);
  });

  it('bounds the password checks one address runs; another address logs in meanwhile', async () => {
    const b = await start({ loginChecksPerAddress: 1, loginQueuePerAddress: 2 });
    const attempts = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const raw = await rawClient(b.mqttUrl, '127.0.0.3');
        raw.send(connectPacket({ clientId: slowUser, username: slowUser, password: Buffer.from(`no-${i}`) }));
        return raw;
      }),
    );
    const legit = await rawClient(b.mqttUrl, '127.0.0.4');
    const carer = SERVICE_USERS.caregiver;
    legit.send(
      connectPacket({ clientId: carer, username: carer, password: Buffer.from(fleet.passwords[carer]!) }),
    );
    expect(await legit.connack()).toBe(0);
    const codes = await Promise.all(attempts.map((raw) => raw.connack()));
    for (const raw of [...attempts, legit]) raw.socket.destroy();
    const refused = codes.filter((c) => c === 3).length;
    expect(refused).toBeGreaterThan(0);
    expect(codes.filter((c) => c === 4).length).toBe(30 - refused);
    expect(await metric(b.httpUrl!, `${M}login_address_refusals_total`)).toBe(refused);
  });

  it('closes a device that publishes QoS 2, counted', async () => {
    const b = await start({});
    const device = fleet.ids.wearable;
    const raw = await rawClient(b.mqttUrl, '127.0.0.1');
    raw.send(
      connectPacket({ clientId: device, username: device, password: Buffer.from(fleet.passwords[device]!) }),
    );
    expect(await raw.connack()).toBe(0);
    raw.send({
      cmd: 'publish',
      topic: topics.deviceTelemetry('c1', device),
      payload: Buffer.from('{}'),
      qos: 2,
      messageId: 1,
      retain: false,
      dup: false,
    });
    await raw.closed;
    expect(raw.received.some((p) => p.cmd === 'pubrec')).toBe(false);
    expect(await metric(b.httpUrl!, `${M}qos2_refusals_total`, { reason: 'device' })).toBe(1);
  });

  it('holds at most the account budget of QoS 2 messages awaiting PUBREL across 40 persistent sessions', async () => {
    const budget = 64;
    const perClient = 8;
    const b = await start({
      qos2HeldPerAccount: budget,
      qos2InflightPerClient: perClient,
      connectRatePerAccount: 10_000,
      connectBurstPerAccount: 10_000,
    });
    const session = async (user: string, clientId: string, messages: number) => {
      const raw = await rawClient(b.mqttUrl, '127.0.0.1');
      const password = Buffer.from(fleet.passwords[user]!);
      raw.send(connectPacket({ clientId, username: user, password, clean: false }));
      expect(await raw.connack()).toBe(0);
      for (let m = 1; m <= messages; m += 1) {
        const nap = topics.nap('c1', fleet.ids.room);
        raw.send({
          cmd: 'publish',
          topic: nap,
          payload: Buffer.alloc(1024),
          qos: 2,
          messageId: m,
          retain: false,
          dup: false,
        });
      }
      let closed = false;
      void raw.closed.then(() => (closed = true));
      await waitFor(() => closed || raw.received.filter((p) => p.cmd === 'pubrec').length === messages);
      raw.socket.destroy();
      return raw.received.filter((p) => p.cmd === 'pubrec').length;
    };
    // Each session persistent, filling its connection's window and never sending PUBREL.
    const user = SERVICE_USERS.supervisor;
    let pubrecs = 0;
    for (let s = 0; s < 40; s += 1) pubrecs += await session(user, `${user}-q${s}`, perClient);
    expect(pubrecs).toBe(budget);
    expect(await metric(b.httpUrl!, `${M}qos2_held`)).toBe(budget);
    expect(await metric(b.httpUrl!, `${M}qos2_refusals_total`, { reason: 'account-held' })).toBe(
      40 - budget / perClient,
    );
    // One connection past its own window is closed, whatever its account holds.
    await session(SERVICE_USERS.caregiver, SERVICE_USERS.caregiver, perClient + 1);
    expect(await metric(b.httpUrl!, `${M}qos2_refusals_total`, { reason: 'client-inflight' })).toBe(1);
    expect(await metric(b.httpUrl!, `${M}qos2_held`)).toBeLessThanOrEqual(budget + perClient);
  });
});

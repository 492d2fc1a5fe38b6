import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Socket, connect as tcpConnect, createServer } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Packet, generate, parser } from 'mqtt-packet';
import { stringify } from 'yaml';
import { generateFleet, ids } from '../../device-sim/index.ts';
import { hashPassword } from '../../lib/credentials.ts';
import { waitFor } from '../../lib/net.ts';
import { FleetIndex } from '../../protocol/fleet.ts';
import { DEFAULT_BROKER_DATA_DIR, type ServiceAccount } from '../../broker/config.ts';
import { stopLocalRedis } from '../../broker/local-redis.ts';
import { testTempDir } from './temp.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Two centres with one room each, so cross-centre refusals have somewhere to point. */
export interface TestFleet {
  dir: string;
  fleet: FleetIndex;
  fleetFile: string;
  /** A broker config file holding the service accounts below. */
  configFile: string;
  accounts: ServiceAccount[];
  /** Username → clear password, for devices and service accounts alike. */
  passwords: Record<string, string>;
  /** Handy ids in centre c1 (and the c2 wearable, the "other centre"). */
  ids: { wearable: string; wearable2: string; alarm: string; roomSensor: string; room: string };
  remove(): void;
}

export const SERVICE_USERS = {
  ingest: 'svc-ingest',
  rules: 'svc-rules',
  caregiver: 'carer-c1',
  supervisor: 'super',
} as const;

/** The fleet's size; a bench asks for a larger one than the tests' two rooms. */
export interface TestFleetShape {
  centers: number;
  roomsPerCenter: number;
  infantsPerRoom: number;
}

/** Cheap scrypt (N=1024): the tests check the hash path, not its cost. */
export function makeTestFleet(
  shape: TestFleetShape = { centers: 2, roomsPerCenter: 1, infantsPerRoom: 2 },
): TestFleet {
  const dir = mkdtempSync(join(tmpdir(), 'cw-broker-'));
  const generated = generateFleet({
    ...shape,
    gateways: false,
    seed: 'broker-tests',
    hashCost: 1024,
    referenceMonth: '2026-01',
  });
  const passwords: Record<string, string> = { ...generated.credentials };
  const accounts: ServiceAccount[] = [
    { username: SERVICE_USERS.ingest, role: 'ingest' },
    { username: SERVICE_USERS.rules, role: 'rules' },
    { username: SERVICE_USERS.caregiver, role: 'caregiver', center: 'c1' },
    { username: SERVICE_USERS.supervisor, role: 'supervisor' },
  ].map((a) => {
    passwords[a.username] = `pw-${a.username}`;
    return { ...a, passwordHash: hashPassword(`pw-${a.username}`, { N: 1024 }) } as ServiceAccount;
  });
  const fleetFile = join(dir, 'fleet.yaml');
  const configFile = join(dir, 'broker.yaml');
  writeFileSync(fleetFile, stringify(generated.fleet));
  writeFileSync(configFile, stringify({ accounts }));
  const room = ids.room(1, 1);
  return {
    dir,
    fleet: new FleetIndex(generated.fleet),
    fleetFile,
    configFile,
    accounts,
    passwords,
    ids: {
      room,
      wearable: ids.wearable(ids.infant(room, 1)),
      wearable2: ids.wearable(ids.infant(ids.room(2, 1), 1)),
      alarm: ids.alarm(room),
      roomSensor: ids.roomSensor(room),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface BrokerProcess {
  child: ChildProcess;
  mqtt: string;
  http: string;
  /** Its working directory: the test run removes it; a bench script outside vitest must. */
  home: string;
  /** Everything the process printed, for asserting on log lines. */
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<{ code: number | null }>;
}

/**
 * Runs `cradlewatch broker` as its own process on free ports and waits for its ready line. It runs in a
 * temp dir of its own, so its default store (./data/broker, a private redis-server) lands there; `stop`
 * ends that store too, should the broker have left it running. `nodeArgs` go to Node (a bench's `--cpu-prof`).
 */
export function spawnBroker(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<BrokerProcess> {
  const home = testTempDir('cw-broker-home-');
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(ROOT, 'bin/cradlewatch.mjs'), 'broker', '--port', '0', '--http-port', '0', ...args],
    { cwd: home, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CW_LOG_FORMAT: 'json', ...env } },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stopStore = () => stopLocalRedis(join(home, DEFAULT_BROKER_DATA_DIR));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      void stopStore().finally(() => reject(new Error(`broker did not start: ${out}`)));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      void stopStore().finally(() => reject(new Error(`broker exited ${code} before ready: ${out}`)));
    });
    const onData = () => {
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      const ready = JSON.parse(line) as { mqtt: string; http: string };
      resolve({
        child,
        mqtt: ready.mqtt,
        http: ready.http,
        home,
        output: () => out,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          const code = await exited;
          await stopStore();
          return { code };
        },
      });
    };
    child.stdout.on('data', onData);
  });
}

/** An MQTT 3.1.1 client that resolves on CONNACK 0 and rejects with the CONNACK code otherwise. */
export function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...options,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/**
 * Connects with message collection running from the first packet (a resumed session's queue arrives right
 * after CONNACK) and keeps the CONNACK's session-present flag.
 */
export function connectCollecting(url: string, options: IClientOptions) {
  return new Promise<{ client: MqttClient; sessionPresent: boolean; got: ReturnType<typeof collect> }>(
    (resolve, reject) => {
      const client = mqtt.connect(url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
        ...options,
      });
      const got = collect(client);
      client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent, got }));
      client.once('error', reject);
    },
  );
}

/** The CONNACK return code a login gets (0 = accepted). */
export async function connackCode(url: string, options: IClientOptions): Promise<number> {
  try {
    const client = await connect(url, options);
    await client.endAsync();
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'number') throw error;
    return code;
  }
}

export function credentials(fleet: TestFleet, username: string, clientId = username): IClientOptions {
  const password = fleet.passwords[username];
  if (password === undefined) throw new Error(`no password for ${username} in the test fleet`);
  return { username, password, clientId };
}

/** Messages a client receives, kept in order, with a way to wait for a count. */
export function collect(client: MqttClient) {
  const messages: { topic: string; payload: string; qos: number; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }),
  );
  return {
    messages,
    waitFor: (count: number, timeoutMs = 5_000) =>
      waitFor(() => messages.length >= count, { timeoutMs, intervalMs: 20, what: `${count} messages` }),
  };
}

export { scrapeMetric as metric } from '../../lib/ops/index.ts';

/**
 * A raw MQTT connection: writes packets built with mqtt-packet and records what the broker sends back, for
 * the conformance cases mqtt.js would not let a test produce (a second CONNECT, a bad first packet).
 */
export async function rawClient(url: string, localAddress?: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = tcpConnect({ port: Number(port), host: hostname, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
  const received: Packet[] = [];
  const parse = parser({ protocolVersion: 4 });
  parse.on('packet', (p) => received.push(p));
  socket.on('data', (d) => parse.parse(d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return {
    socket,
    received,
    closed,
    send: (packet: Packet) => socket.write(generate(packet)),
    sendBytes: (bytes: Buffer) => socket.write(bytes),
    /** The CONNACK's return code. */
    connack: async () => {
      await waitFor(() => received.some((p) => p.cmd === 'connack'), { what: 'CONNACK', intervalMs: 5 });
      return (received.find((p) => p.cmd === 'connack') as { returnCode: number }).returnCode;
    },
    waitFor: (cmd: Packet['cmd'], timeoutMs = 5_000) =>
      waitFor(() => received.some((p) => p.cmd === cmd), { timeoutMs, intervalMs: 10, what: cmd }).then(
        () => received.find((p) => p.cmd === cmd)!,
      ),
    /** Resolves true if the broker closed the socket within `ms`. */
    closedWithin: (ms: number) =>
      Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
  };
}

export function connectPacket(
  fields: Partial<Packet & { cmd: 'connect' }> & Record<string, unknown>,
): Packet {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    clientId: 'raw',
    ...fields,
  } as Packet;
}

/** A stock Aedes on a loopback socket, for tests of Aedes' own behaviour under our modules. */
export interface BareAedes {
  aedes: Aedes;
  url: string;
  close(): Promise<void>;
}

export async function bareAedes(options: AedesOptions = {}): Promise<BareAedes> {
  const aedes = await Aedes.createBroker(options);
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    aedes,
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import mqtt from 'mqtt';
import pidusage from 'pidusage';
import pino from 'pino';
import { type SimSummary, generateFleet, runSimulation, writeFleetFiles } from '../device-sim/index.ts';
import { hashPassword } from '../lib/credentials.ts';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { ensureDatabase, influxRows } from '../lib/influx/query.ts';
import { type RunningInfluxd, startInfluxd } from '../lib/influx/server.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { checkPasses, fetchHealth, scrapeMetric } from '../lib/ops/index.ts';
import type { AlertTransition } from '../protocol/alerts.ts';
import type { Fleet } from '../protocol/fleet.ts';
import { topics } from '../protocol/topics.ts';
import { measureBareAedes } from './broker-pubsub.ts';

const root = join(import.meta.dirname, '..');

export const SCENARIOS = ['throughput', 'latency', 'recovery', 'connections'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** How the services run: one `cradlewatch up` process, or broker, ingest and rules as three processes. */
export const TOPOLOGIES = ['one-process', 'split'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

type InfluxV1 = Extract<InfluxConnection, { api: 'v1' }>;

export interface BenchOptions {
  scenarios: ScenarioName[];
  topology: Topology;
  /** Where the services write a V8 CPU profile each (`node --cpu-prof`); absent = none. */
  cpuProfileDir?: string;
  /** V8 old-space limit per service process in MB (`--max-old-space-size`); absent = Node's default. */
  heapMb?: number;
  /** Target readings/s for throughput, latency and recovery. */
  rate: number;
  /** Seconds at the target rate (after the connection ramp). */
  durationS: number;
  /** Wearables on their own connections for `connections`. */
  connections: number;
  presses: number;
  outageS: number;
  /** Seconds each ceiling measurement runs. */
  ceilingS: number;
  progress: (line: string) => void;
}

export interface ProcessUsage {
  process: string;
  cpuPercent: number;
  peakRssMb: number;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  topology: Topology;
  offeredPerS: number;
  connections: number;
  readingsSent: number;
  readingsWritten: number;
  lost: number;
  achievedPerS: number;
  latencyMs?: { count: number; p50: number; p99: number; max: number };
  drainS?: number;
  /** Alert transitions the rules wrote to InfluxDB during the run, by rule: what the load also made them do. */
  alertTransitions: Record<string, number>;
  /**
   * What the simulator really did to its devices, to count false alerts against: a silence-type transition
   * (monitoring-lost, room-silent, center-silent) for a run that dropped and silenced nothing is false.
   */
  groundTruth: { devicesDropped: number; faults: SimSummary['faults'] };
  /**
   * Silence alerts raised after every simulated device had connected, by rule (the start-up ramp is
   * excluded: until its gateway logs in, a wearable really is unmonitored).
   */
  silenceRaisedAfterConnect: Record<string, number>;
  /** Times the broker held telemetry publishers, and the hold announcements the rules heard. */
  overload: { brokerHolds: number; rulesHeardHeld: number };
  /**
   * Presses as the rules saw them: mean ms from the press to its arrival at the rules, and to the engine
   * having processed it, and how many arrived over a second late. The rest of alarm→SSE is the rules' SSE
   * write and the bench's own reading of it.
   */
  alarmPath?: { presses: number; meanArrivalMs: number; meanProcessedMs: number; arrivedAfter1s: number };
  processes: ProcessUsage[];
  /** The stock parts in the same run: a plain writer into the same influxd, a bare Aedes. */
  ceilings: { influxPointsPerS: number; bareBrokerReadingsPerS: number };
}

/** Seconds-long, tiny-load settings that exercise every scenario: `npm test` runs them so the harness never rots. */
export const SMOKE = {
  rate: 300,
  duration: 6,
  connections: 40,
  presses: 10,
  outage: 2,
  ceilingS: 1,
} as const;

const SUPERVISOR_TOKEN = 'bench-supervisor-token-0123456789';

/** Plain line-protocol writer: 5,000-line batches of the same wearable points ingest writes. */
async function influxCeiling(conn: InfluxV1, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let points = 0;
  let ts = Date.now() - 3_600_000;
  const started = performance.now();
  while (Date.now() < deadline) {
    const lines: string[] = [];
    for (let i = 0; i < 5_000; i += 1) {
      ts += 1;
      lines.push(
        `wearable,center=c${i % 50},room=r${i % 500},device=w-${i},infant=i-${i} posture="supine",prone=0i,skin_temp=36.4,motion=0.3,battery=80i,rssi=-60i,seq=${points + i}i ${ts}`,
      );
    }
    const response = await fetch(`${conn.url}/write?db=${conn.database}&precision=ms`, {
      method: 'POST',
      body: lines.join('\n'),
    });
    if (!response.ok) throw new Error(`ceiling write failed: ${response.status}`);
    points += lines.length;
  }
  return Math.round(points / ((performance.now() - started) / 1000));
}

/** A gateway batch of 100 readings through a bare Aedes, in readings/s. */
async function brokerCeiling(seconds: number): Promise<number> {
  const now = Date.now();
  const batch = Buffer.from(
    JSON.stringify({
      v: 1,
      batch: Array.from({ length: 100 }, (_, i) => ({
        device: `w-c1-r1-i${i}`,
        ts: now,
        seq: i,
        posture: 'supine',
        skinTempC: 36.4,
        motion: 0.3,
        worn: true,
        battery: 80,
      })),
    }),
  );
  const result = await measureBareAedes(topics.gatewayTelemetry('c1', 'gw-c1-r1'), seconds, batch);
  return result.perSecond * 100;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Samples CPU and RSS of named processes once a second; CPU is the average over the window, as % of one core. */
function sampleProcesses(pids: () => Record<string, number | undefined>) {
  const stats = new Map<string, { cpu: number[]; peak: number }>();
  const timer = setInterval(async () => {
    for (const [name, pid] of Object.entries(pids())) {
      if (!pid) continue;
      try {
        const usage = await pidusage(pid);
        const entry = stats.get(name) ?? { cpu: [], peak: 0 };
        entry.cpu.push(usage.cpu);
        entry.peak = Math.max(entry.peak, usage.memory);
        stats.set(name, entry);
      } catch {
        // The process may be between a stop and a restart (the recovery scenario's influxd).
      }
    }
  }, 1_000);
  return (): ProcessUsage[] => {
    clearInterval(timer);
    pidusage.clear();
    return [...stats].map(([name, s]) => ({
      process: name,
      cpuPercent: Math.round(s.cpu.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, s.cpu.length - 1)),
      peakRssMb: Math.round(s.peak / 2 ** 20),
    }));
  };
}

interface Services {
  /** The cradlewatch processes by the name the table shows. */
  pids: () => Record<string, number | undefined>;
  mqttUrl: string;
  pageUrl: string;
  /** Where ingest's /metrics answers: its own port, or the page's under `cradlewatch up`. */
  ingestUrl: string;
  /** Where the broker's and the rules' /metrics answer (one URL under `cradlewatch up`). */
  brokerUrl: string;
  rulesUrl: string;
  /** What each service that exited during the run said last. */
  crashed(): string[];
  stop(): Promise<void>;
}

/**
 * Services still running when the bench process ends: a bench that dies of an error it did not expect
 * (seen: an MQTT client's unhandled CONNACK timeout at 30,000 offered) left four services and an influxd
 * running, loading every later run.
 */
const running = new Set<{ kill(signal: NodeJS.Signals): unknown }>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** `node bin/cradlewatch.mjs <args>` with its output kept for the error that explains a failed start. */
function spawnCradlewatch(args: string[], nodeArgs: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...nodeArgs, 'bin/cradlewatch.mjs', ...args], {
    cwd: root,
    env: { ...process.env, CW_LOG_LEVEL: 'error', CW_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // A process killed by a signal (V8 aborts on a full heap) has a signalCode and no exitCode.
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ready = (what: string, test: (output: string) => boolean | Promise<boolean>) =>
    waitFor(
      () => {
        if (exited())
          throw new Error(`${args[0]} exited (${child.exitCode ?? child.signalCode}):\n${output}`);
        return test(output);
      },
      { timeoutMs: 60_000, what },
    );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited()) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  /** Why it is gone, if it exited on its own: the end of what it wrote. */
  const crashed = () =>
    exited()
      ? `${args[0]} exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`
      : undefined;
  return { child, ready, stop, output: () => output, crashed };
}

/** Broker, ingest, rules and the HTTP server as one child process, the way `cradlewatch up` runs them. */
async function startOneProcess(
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  const configFile = join(dir, 'cradlewatch.yaml');
  writeFileSync(configFile, `tokens:\n  - { token: ${SUPERVISOR_TOKEN}, role: supervisor, name: bench }\n`);
  const up = spawnCradlewatch(
    ['up', '--fleet', fleetFile, '--config', configFile, '--data-dir', join(dir, 'data')],
    nodeArgs,
    {
      CW_INFLUX_API: 'v1',
      CW_INFLUX_URL: influx.url,
      CW_INFLUX_DATABASE: influx.database,
      CW_MQTT_PORT: '0',
      CW_HTTP_PORT: '0',
    },
  );
  await up.ready('the services banner', (output) => /Metrics\s+\S+\/metrics/.test(output));
  const output = up.output();
  return {
    pids: () => ({ 'cradlewatch up (broker+ingest+rules)': up.child.pid }),
    mqttUrl: /MQTT broker\s+(\S+)/.exec(output)![1]!,
    pageUrl: /Caregiver page\s+(\S+)/.exec(output)![1]!,
    ingestUrl: /Metrics\s+(\S+)\/metrics/.exec(output)![1]!,
    brokerUrl: /Metrics\s+(\S+)\/metrics/.exec(output)![1]!,
    rulesUrl: /Metrics\s+(\S+)\/metrics/.exec(output)![1]!,
    crashed: () => [up.crashed()].filter((c) => c !== undefined),
    stop: up.stop,
  };
}

/**
 * Broker, ingest and rules as three processes with their own config files, the way a site runs them:
 * each gets its own event loop (and core), and the table shows each one's CPU and memory.
 */
async function startSplit(
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  const account = (username: string, role: 'ingest' | 'rules') => {
    const password = randomBytes(18).toString('base64url');
    return {
      account: { username, role, passwordHash: hashPassword(password) },
      login: { username, password },
    };
  };
  const ingestAccount = account('cradlewatch-ingest', 'ingest');
  const rulesAccount = account('cradlewatch-rules', 'rules');
  const started: ReturnType<typeof spawnCradlewatch>[] = [];
  /** `cradlewatch <service> --config <dir>/<service>.json`, stopped with the others on the way out. */
  const service = (name: 'broker' | 'ingest' | 'rules', config: unknown) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const child = spawnCradlewatch([name, '--config', file], nodeArgs);
    started.push(child);
    return child;
  };
  const stop = async () => {
    for (const s of started.reverse()) await s.stop();
  };
  try {
    const brokerPort = await freePort();
    const broker = service('broker', {
      host: '127.0.0.1',
      port: 0,
      httpPort: brokerPort,
      fleetFile,
      accounts: [ingestAccount.account, rulesAccount.account],
    });
    await broker.ready('the broker', (output) => output.includes('"ready":true'));
    const readyLine = broker
      .output()
      .split('\n')
      .find((l) => l.includes('"ready":true'))!;
    const mqttUrl = (JSON.parse(readyLine) as { mqtt: string }).mqtt;
    const ingestPort = await freePort();
    const ingest = service('ingest', {
      mqtt: { url: mqttUrl, ...ingestAccount.login },
      influx,
      fleetFile,
      spool: { dir: join(dir, 'data', 'spool') },
      deadletter: { dir: join(dir, 'data', 'deadletter') },
      http: { host: '127.0.0.1', port: ingestPort },
    });
    const ingestUrl = `http://127.0.0.1:${ingestPort}`;
    await ingest.ready('ingest subscribed', async () => checkPasses(await fetchHealth(ingestUrl), 'mqtt'));
    const rulesPort = await freePort();
    const rules = service('rules', {
      mqtt: { url: mqttUrl, ...rulesAccount.login },
      fleetFile,
      journalDir: join(dir, 'data', 'rules'),
      influx,
      http: {
        host: '127.0.0.1',
        port: rulesPort,
        tokens: [{ token: SUPERVISOR_TOKEN, role: 'supervisor', name: 'bench' }],
      },
    });
    const pageUrl = `http://127.0.0.1:${rulesPort}`;
    await rules.ready('rules serving', async () => (await fetchHealth(pageUrl))?.status === 'ok');
    return {
      pids: () => ({
        'cradlewatch broker': broker.child.pid,
        'cradlewatch ingest': ingest.child.pid,
        'cradlewatch rules': rules.child.pid,
      }),
      mqttUrl,
      pageUrl,
      ingestUrl,
      brokerUrl: `http://127.0.0.1:${brokerPort}`,
      rulesUrl: pageUrl,
      crashed: () => [broker, ingest, rules].map((s) => s.crashed()).filter((c) => c !== undefined),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The alarm buttons the latency scenario presses. The simulator leaves them alone: a device's client id is
 * its id, so two connections of one button would take the session from each other.
 */
function pressedButtons(fleet: Fleet): Fleet['devices'] {
  return fleet.devices.filter((d) => d.kind === 'alarm').slice(0, 20);
}

/** Presses alarm buttons one at a time each and times press → SSE event on a real HTTP client. */
async function pressAlarms(
  fleet: Fleet,
  credentials: Record<string, string>,
  mqttUrl: string,
  pageUrl: string,
  presses: number,
  /** The presses are spread evenly over this window. */
  windowMs: number,
): Promise<number[]> {
  const buttons = pressedButtons(fleet);
  const pending = new Map<string, number>();
  const latencies: number[] = [];
  const source = new EventSource(`${pageUrl}/api/alerts/stream`, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${SUPERVISOR_TOKEN}` } }),
  });
  source.addEventListener('alert', (event) => {
    const transition = JSON.parse(event.data) as AlertTransition;
    if (transition.alert.rule !== 'one-key-alarm' || transition.kind === 'acknowledged') return;
    const started = pending.get(transition.alert.subject.id);
    if (started === undefined) return;
    pending.delete(transition.alert.subject.id);
    latencies.push(performance.now() - started);
  });
  await new Promise<void>((resolve, reject) => {
    source.onopen = () => resolve();
    source.onerror = () => reject(new Error('SSE stream refused'));
  });
  // A broker too busy to answer CONNACK in time says so as an 'error' event, also after the connect: with
  // no listener that ended the whole bench (30,000 offered on a loaded machine).
  const clients = await Promise.all(
    buttons.map(
      (b) =>
        new Promise<mqtt.MqttClient>((resolve, reject) => {
          const client = mqtt.connect(mqttUrl, {
            clientId: b.id,
            username: b.id,
            password: credentials[b.id]!,
            reconnectPeriod: 0,
          });
          client.once('connect', () => resolve(client));
          client.on('error', reject);
        }),
    ),
  );
  const spacing = Math.max(50, Math.floor(windowMs / presses));
  let seq = 0;
  for (let i = 0; i < presses; i += 1) {
    const index = i % buttons.length;
    const button = buttons[index]!;
    if (pending.has(button.id)) {
      await waitFor(() => !pending.has(button.id), {
        timeoutMs: 5_000,
        intervalMs: 5,
        what: `SSE for ${button.id}`,
      }).catch(() => pending.delete(button.id));
    }
    pending.set(button.id, performance.now());
    await clients[index]!.publishAsync(
      topics.deviceAlarm(button.center, button.id),
      JSON.stringify({ v: 1, ts: Date.now(), seq: seq++, event: 'pressed' }),
      { qos: 1 },
    );
    await new Promise((r) => setTimeout(r, spacing));
  }
  await waitFor(() => pending.size === 0, { timeoutMs: 5_000, what: 'the last SSE events' }).catch(() => {});
  source.close();
  await Promise.all(clients.map((c) => c.endAsync()));
  return latencies;
}

/** Silence-type alerts raised (stamped) after `since`, by rule: with nothing dropped, each one is false. */
async function silenceRaisedSince(
  conn: InfluxConnection,
  since: number | undefined,
): Promise<Record<string, number>> {
  if (since === undefined) return {};
  const rows = await influxRows(
    conn,
    `SELECT count("alert_id") AS n FROM alert WHERE "transition" = 'raised' AND "rule" =~ /^(monitoring-lost|room-silent|center-silent)$/ AND time > ${since}ms GROUP BY "rule"`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.rule), Number(r.n)]));
}

async function alertTransitions(conn: InfluxConnection): Promise<Record<string, number>> {
  const rows = await influxRows(conn, 'SELECT count("alert_id") AS n FROM alert GROUP BY "rule"');
  return Object.fromEntries(rows.map((r) => [String(r.rule), Number(r.n)]));
}

async function countWritten(conn: InfluxConnection): Promise<number> {
  const [w] = await influxRows(conn, 'SELECT count("seq") AS n FROM wearable');
  const [r] = await influxRows(conn, 'SELECT count("temp") AS n FROM room_env');
  return Number(w?.n ?? 0) + Number(r?.n ?? 0);
}

/** One run of the real pipeline: influxd, the services, the simulator, and what the scenario adds. */
export async function runScenario(name: ScenarioName, options: BenchOptions): Promise<ScenarioResult> {
  const say = (line: string) => options.progress(`[${name}] ${line}`);
  const dir = mkdtempSync(join(tmpdir(), 'cw-bench-'));
  const influxd: RunningInfluxd = await startInfluxd({ dataDir: join(dir, 'influxdb') });
  // Restarted in the recovery scenario: whichever process it is at the end is the one to stop.
  const influxdOnExit = { kill: (signal: NodeJS.Signals) => influxd.process.kill(signal) };
  running.add(influxdOnExit);
  let services: Services | undefined;
  // Ctrl-C on a long run must not leave the services and influxd behind.
  const abandon = () => {
    for (const pid of Object.values(services?.pids() ?? {})) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    influxd.process.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', abandon);
  process.once('SIGTERM', abandon);
  try {
    const ceilingConn = { api: 'v1' as const, url: influxd.url, database: 'ceiling' };
    await ensureDatabase(ceilingConn);
    say(`measuring the stock parts' ceilings (${options.ceilingS} s each)`);
    const ceilings = {
      influxPointsPerS: await influxCeiling(ceilingConn, options.ceilingS),
      bareBrokerReadingsPerS: await brokerCeiling(options.ceilingS),
    };
    say(
      `ceilings: InfluxDB ${ceilings.influxPointsPerS} points/s, bare Aedes ${ceilings.bareBrokerReadingsPerS} readings/s in batches of 100`,
    );

    const perConnection = name === 'connections';
    const wearables = perConnection ? options.connections : options.rate;
    const infantsPerRoom = perConnection ? 10 : 12;
    const roomsPerCenter = 25;
    const centers = Math.max(1, Math.ceil(wearables / (infantsPerRoom * roomsPerCenter)));
    say(
      `generating a fleet: ${centers} centres × ${roomsPerCenter} rooms × ${infantsPerRoom} infants${perConnection ? ', one connection each' : ', room gateways'}`,
    );
    const generated = generateFleet({
      centers,
      roomsPerCenter,
      infantsPerRoom,
      gateways: !perConnection,
      seed: 42,
      hashCost: 1024,
      referenceMonth: '2026-01',
    });
    const fleetFile = join(dir, 'fleet.yaml');
    writeFleetFiles(generated, fleetFile, join(dir, 'credentials.yaml'));

    const conn = { api: 'v1' as const, url: influxd.url, database: 'bench' };
    await ensureDatabase(conn);
    say(`starting the services (${options.topology})`);
    // A CPU profile per service process, written when it exits: where the time goes at a given load.
    // A heap limit per service: with 24 GiB here V8 lets garbage pile up to gigabytes before it collects.
    const nodeArgs = [
      ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
      ...(options.heapMb ? [`--max-old-space-size=${options.heapMb}`] : []),
    ];
    const start = options.topology === 'split' ? startSplit : startOneProcess;
    services = await start(dir, fleetFile, conn, nodeArgs);
    const sample = sampleProcesses(() => ({
      ...services?.pids(),
      'simulator + bench clients': process.pid,
      influxd: influxd.pid,
    }));
    // Connections open at the simulator's connect rate first: the steps up to the full rate.
    const connections = generated.fleet.devices.filter((d) => d.passwordHash).length;
    const connectS = Math.ceil(connections / 500);
    const durationMs = (options.durationS + connectS) * 1000;
    say(`running ${options.durationS} s at ${wearables} wearables (+${connectS} s of connection ramp)`);
    const pressed = new Set(name === 'latency' ? pressedButtons(generated.fleet).map((b) => b.id) : []);
    const sim = runSimulation({
      fleet: { ...generated.fleet, devices: generated.fleet.devices.filter((d) => !pressed.has(d.id)) },
      startTime: Date.now(),
      durationMs,
      url: services.mqttUrl,
      credentials: generated.credentials,
      speed: 1,
      // The simulator's warnings (its first errors, then every thousandth) go to the progress lines.
      logger: pino(
        { level: 'warn' },
        { write: (line: string) => say(`simulator: ${(JSON.parse(line) as { msg: string }).msg}`) },
      ),
      status: 'off',
      // Each real device waits for its own acknowledgement, not for a fleet-wide window.
      window: Math.max(1_000, connections),
      behaviour: { proneRollsPerHour: 0, wifiDropsPerHour: 0, connectRate: 500 },
    });
    // Until every device is connected, a wearable that has not reported is really unmonitored (its
    // gateway is still waiting to log in): silence raised before then is not counted as false.
    let allConnectedAt: number | undefined;
    const connectedWatch = setInterval(() => {
      if (allConnectedAt === undefined && sim.stats().connected >= connections) allConnectedAt = Date.now();
    }, 250);
    const progress = setInterval(() => {
      const s = sim.stats();
      say(
        `connected ${s.connected}, readings acked ${s.readingsAcked}, in flight ${s.inflight}, errors ${s.errors}`,
      );
    }, 10_000);
    const extra: Promise<unknown>[] = [];
    let latencies: number[] | undefined;
    let drainS: number | undefined;
    if (name === 'latency') {
      extra.push(
        (async () => {
          await new Promise((r) => setTimeout(r, connectS * 1000));
          latencies = await pressAlarms(
            generated.fleet,
            generated.credentials,
            services!.mqttUrl,
            services!.pageUrl,
            options.presses,
            options.durationS * 1000 * 0.8,
          );
        })(),
      );
    }
    if (name === 'recovery') {
      extra.push(
        (async () => {
          await new Promise((r) => setTimeout(r, connectS * 1000 + (options.durationS * 1000) / 4));
          say(`stopping InfluxDB for ${options.outageS} s under load`);
          await influxd.stop();
          await new Promise((r) => setTimeout(r, options.outageS * 1000));
          await influxd.restart();
          const restarted = performance.now();
          say('InfluxDB is back; timing the spool drain');
          await waitFor(
            async () =>
              (await scrapeMetric(services!.ingestUrl, 'cradlewatch_ingest_influx_up')) === 1 &&
              (await scrapeMetric(services!.ingestUrl, 'cradlewatch_ingest_spool_bytes')) === 0,
            { timeoutMs: 600_000, intervalMs: 250, what: 'the spool to drain' },
          );
          drainS = (performance.now() - restarted) / 1000;
        })(),
      );
    }
    // Bounded: a rate the pipeline cannot take leaves a backlog in the simulator; it gets one more minute.
    const bound = setTimeout(() => {
      say('the pipeline fell behind the offered rate: stopping the simulator a minute after its plan ended');
      void sim.stop();
    }, durationMs + 60_000);
    const summary = await sim.done;
    clearTimeout(bound);
    await Promise.all(extra);
    clearInterval(progress);
    clearInterval(connectedWatch);
    say(`simulator done: ${summary.readingsAcked} readings acknowledged; waiting for InfluxDB to hold them`);
    let written = 0;
    let last = -1;
    let stableSince = Date.now();
    // Ingest may still hold readings in its spool or its queue (InfluxDB slower than the offered rate):
    // those are not lost until ingest says it has nothing left; a count that stops moving while it still
    // holds some is a retry backoff, not the end.
    const ingestHolds = async () =>
      (await scrapeMetric(services!.ingestUrl, 'cradlewatch_ingest_spool_bytes')) +
      (await scrapeMetric(services!.ingestUrl, 'cradlewatch_ingest_queued_batches'));
    const waitUntil = Date.now() + 600_000;
    let reported = Date.now();
    while (Date.now() < waitUntil) {
      written = await countWritten(conn);
      if (written >= summary.readingsAcked) break;
      if (written !== last) {
        last = written;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 15_000 && (await ingestHolds()) === 0) break;
      if (Date.now() - reported > 10_000) {
        reported = Date.now();
        say(
          `InfluxDB holds ${written} of ${summary.readingsAcked}; ingest still holds ${await ingestHolds()} (spool bytes + batches)`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const processes = sample();
    const crashed = services.crashed();
    if (crashed.length > 0) throw new Error(`a service exited during the run:\n${crashed.join('\n')}`);
    const overload = {
      brokerHolds: await scrapeMetric(services.brokerUrl, 'cradlewatch_broker_overload_holds_total'),
      rulesHeardHeld: await scrapeMetric(services.rulesUrl, 'cradlewatch_rules_broker_holds_heard_total', {
        held: 'true',
      }),
    };
    // Where an alarm's time goes: the rules' own histograms of press time to arrival, and to processed.
    const lag = async (name: string, suffix: string, labels: Record<string, string> = {}) =>
      scrapeMetric(services!.rulesUrl, `cradlewatch_rules_${name}_seconds_${suffix}`, {
        kind: 'alarm',
        ...labels,
      });
    const presses = await lag('arrival_lag', 'count');
    const alarmPath =
      presses > 0
        ? {
            presses,
            meanArrivalMs: Math.round(((await lag('arrival_lag', 'sum')) / presses) * 1000),
            meanProcessedMs: Math.round(((await lag('input_lag', 'sum')) / presses) * 1000),
            arrivedAfter1s: presses - (await lag('arrival_lag', 'bucket', { le: '1' })),
          }
        : undefined;
    const sorted = latencies?.slice().sort((a, b) => a - b);
    return {
      scenario: name,
      topology: options.topology,
      offeredPerS: wearables + Math.round((generated.fleet.rooms.length * 1000) / 10_000),
      connections,
      readingsSent: summary.readingsAcked,
      readingsWritten: written,
      lost: Math.max(0, summary.readingsAcked - written),
      achievedPerS: Math.round(summary.readingsAcked / (summary.wallMs / 1000)),
      ...(sorted
        ? {
            latencyMs: {
              count: sorted.length,
              p50: Math.round(percentile(sorted, 50)),
              p99: Math.round(percentile(sorted, 99)),
              max: Math.round(sorted.at(-1) ?? Number.NaN),
            },
          }
        : {}),
      ...(drainS !== undefined ? { drainS: Math.round(drainS * 10) / 10 } : {}),
      alertTransitions: await alertTransitions(conn),
      groundTruth: { devicesDropped: summary.devicesDropped, faults: summary.faults },
      silenceRaisedAfterConnect: await silenceRaisedSince(conn, allConnectedAt),
      overload,
      ...(alarmPath ? { alarmPath } : {}),
      processes,
      ceilings,
    };
  } finally {
    process.off('SIGINT', abandon);
    process.off('SIGTERM', abandon);
    await services?.stop();
    await influxd.stop();
    running.delete(influxdOnExit);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario (services) | offered readings/s | connections | achieved readings/s | sent | written | lost | alarm→SSE p50/p99/max ms | spool drain s | alert transitions | devices dropped by the simulator | silence alerts raised after all connected | broker holds / hold announcements heard by the rules | InfluxDB ceiling pts/s | bare Aedes ceiling readings/s | CPU % / peak RSS MB per process |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const latency = r.latencyMs
      ? `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} (n=${r.latencyMs.count})`
      : '–';
    const transitions =
      Object.entries(r.alertTransitions)
        .map(([rule, n]) => `${rule} ${n}`)
        .join(', ') || '0';
    const processes = r.processes.map((p) => `${p.process}: ${p.cpuPercent} % / ${p.peakRssMb}`).join('; ');
    rows.push(
      `| ${r.scenario} (${r.topology}) | ${r.offeredPerS} | ${r.connections} | ${r.achievedPerS} | ${r.readingsSent} | ${r.readingsWritten} | ${r.lost} | ${latency} | ${r.drainS ?? '–'} | ${transitions} | ${r.groundTruth.devicesDropped} | ${Object.values(r.silenceRaisedAfterConnect).reduce((a, b) => a + b, 0)} | ${r.overload.brokerHolds} / ${r.overload.rulesHeardHeld} | ${r.ceilings.influxPointsPerS} | ${r.ceilings.bareBrokerReadingsPerS} | ${processes} |`,
    );
  }
  return rows.join('\n');
}

export async function runBench(
  options: BenchOptions,
  resultsDir = join(root, 'bench', 'results'),
): Promise<{ results: ScenarioResult[]; table: string; jsonFile: string }> {
  const results: ScenarioResult[] = [];
  for (const name of options.scenarios) results.push(await runScenario(name, options));
  const table = renderTable(results);
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = join(resultsDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, JSON.stringify({ options: { ...options, progress: undefined }, results }, null, 2));
  return { results, table, jsonFile };
}

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localRedisSocket } from '../broker/local-redis.ts';
import { hashPassword } from '../lib/credentials.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { checkPasses, fetchHealth } from '../lib/ops/index.ts';
import { onExit } from './on-exit.ts';
import { type InfluxV1, SUPERVISOR_TOKEN, type Topology } from './options.ts';

const root = join(import.meta.dirname, '..');

export interface Services {
  /** The cradlewatch processes by the name the table shows. */
  pids: () => Record<string, number | undefined>;
  mqttUrl: string;
  /** The caregiver page of each rules partition: each streams only its own centres' alerts. */
  pageUrls: string[];
  /** Where each ingest partition's /metrics answers: its own port, or the page's under `cradlewatch up`. */
  ingestUrls: string[];
  /** Where the broker's and each rules partition's /metrics answer (one URL under `cradlewatch up`). */
  brokerUrl: string;
  rulesUrls: string[];
  /** What each service that exited during the run said last. */
  crashed(): string[];
  stop(): Promise<void>;
}

/** `node bin/cradlewatch.mjs <args>` with its output kept for the error that explains a failed start. */
function spawnCradlewatch(
  args: string[],
  nodeArgs: string[],
  env: Record<string, string> = {},
  /** What its errors call it. */
  name = args[0],
) {
  const child = spawn(process.execPath, [...nodeArgs, 'bin/cradlewatch.mjs', ...args], {
    cwd: root,
    env: { ...process.env, CW_LOG_LEVEL: 'error', CW_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once(
    'exit',
    onExit(() => child.kill('SIGKILL')),
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // A process killed by a signal (V8 aborts on a full heap) has a signalCode and no exitCode.
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ready = (what: string, test: (output: string) => boolean | Promise<boolean>) =>
    waitFor(
      () => {
        if (exited()) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${output}`);
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
    exited() ? `${name} exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}` : undefined;
  return { child, ready, stop, output: () => output, crashed };
}

/** The table's row for the broker's redis-server. */
const STORE = "redis-server (the broker's sessions)";

/**
 * The broker's store in `storeDir`, its private redis-server (durable sessions, the product's default): its
 * pid, for the table's CPU and memory columns, since it is part of what the broker costs; and shut down on
 * the way out of a failed bench, which kills the broker and so leaves it running. `forget` once the broker
 * has stopped (which shuts it down).
 */
function brokerStore(storeDir: string) {
  const socket = localRedisSocket(storeDir);
  const forget = onExit(() =>
    spawnSync('redis-cli', ['-s', socket, 'shutdown', 'nosave'], { stdio: 'ignore' }),
  );
  let pid: number | undefined;
  const lookUp = () => {
    const info = spawnSync('redis-cli', ['-s', socket, 'info', 'server'], { encoding: 'utf8' }).stdout ?? '';
    const found = /process_id:(\d+)/.exec(info)?.[1];
    return found ? Number(found) : undefined;
  };
  return { pid: () => (pid ??= lookUp()), forget };
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
  // The broker's sessions go to data/broker, as `up` keeps them by default.
  const store = brokerStore(join(dir, 'data', 'broker'));
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
  const metricsUrl = /Metrics\s+(\S+)\/metrics/.exec(output)![1]!;
  return {
    pids: () => ({ 'cradlewatch up (broker+ingest+rules)': up.child.pid, [STORE]: store.pid() }),
    mqttUrl: /MQTT broker\s+(\S+)/.exec(output)![1]!,
    pageUrls: [/Caregiver page\s+(\S+)/.exec(output)![1]!],
    ingestUrls: [metricsUrl],
    brokerUrl: metricsUrl,
    rulesUrls: [metricsUrl],
    crashed: () => [up.crashed()].filter((c) => c !== undefined),
    stop: async () => {
      await up.stop();
      store.forget();
    },
  };
}

/** Partition i of n as the services' `partition` setting and as the suffix rules gives its defaults. */
const partitionOf = (index: number, count: number) => ({
  setting: `${index}/${count}`,
  suffix: `p${index}of${count}`,
});

/**
 * Broker, ingest and rules as three processes with their own config files, the way a site runs them:
 * each gets its own event loop (and core), and the table shows each one's CPU and memory. With
 * `partitions` above 1, ingest and rules run that many processes each, partitioned by centre
 * (docs/scaling.md), every one with its own client id, directories and port; still one broker (a broker
 * cluster needs Redis and a device balancer: test/multinode has one, the bench does not).
 */
async function startSplit(
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
  partitions: number,
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
  /** `cradlewatch <service> --config <dir>/<file>.json`, stopped with the others on the way out. */
  const service = (name: 'broker' | 'ingest' | 'rules', config: unknown, suffix?: string) => {
    const file = join(dir, `${suffix ? `${name}-${suffix}` : name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const child = spawnCradlewatch(
      [name, '--config', file],
      nodeArgs,
      {},
      suffix ? `${name} ${suffix}` : name,
    );
    started.push(child);
    return child;
  };
  // The product's default: sessions on disk in a private redis-server (here in the bench's dir, not ./data).
  const brokerData = join(dir, 'data', 'broker');
  const store = brokerStore(brokerData);
  const stop = async () => {
    for (const s of started.reverse()) await s.stop();
    store.forget();
  };
  // One partition runs unpartitioned, as before partitions existed: same ids, directories and names.
  const parts = Array.from({ length: partitions }, (_, i) =>
    partitions > 1 ? partitionOf(i, partitions) : undefined,
  );
  type Part = (typeof parts)[number];
  const label = (name: string, part: Part) =>
    part ? `cradlewatch ${name} ${part.suffix}` : `cradlewatch ${name}`;
  const below = (path: string, part: Part) => (part ? join(path, part.suffix) : path);
  try {
    const brokerPort = await freePort();
    const broker = service('broker', {
      host: '127.0.0.1',
      port: 0,
      httpPort: brokerPort,
      fleetFile,
      dataDir: brokerData,
      accounts: [ingestAccount.account, rulesAccount.account],
    });
    await broker.ready('the broker', (output) => output.includes('"ready":true'));
    const readyLine = broker
      .output()
      .split('\n')
      .find((l) => l.includes('"ready":true'))!;
    const mqttUrl = (JSON.parse(readyLine) as { mqtt: string }).mqtt;
    /** One `name` process per partition, each on its own HTTP port; resolves once `isUp` holds for all. */
    const startTier = async (
      name: 'ingest' | 'rules',
      what: string,
      configOf: (part: Part, port: number) => unknown,
      isUp: (url: string) => Promise<boolean>,
    ) => {
      const tier = await Promise.all(
        parts.map(async (part) => {
          const port = await freePort();
          const running = service(name, configOf(part, port), part?.suffix);
          return { label: label(name, part), running, url: `http://127.0.0.1:${port}` };
        }),
      );
      await Promise.all(tier.map(({ running, url }) => running.ready(what, () => isUp(url))));
      return tier;
    };
    // Ingest derives nothing from its partition: its client id is given here, as ingest/README.md asks.
    const ingests = await startTier(
      'ingest',
      'ingest subscribed',
      (part, port) => ({
        mqtt: {
          url: mqttUrl,
          ...ingestAccount.login,
          ...(part ? { clientId: `cradlewatch-ingest-${part.suffix}` } : {}),
        },
        influx,
        fleetFile,
        ...(part ? { partition: part.setting } : {}),
        spool: { dir: below(join(dir, 'data', 'spool'), part) },
        deadletter: { dir: below(join(dir, 'data', 'deadletter'), part) },
        http: { host: '127.0.0.1', port },
      }),
      async (url) => checkPasses(await fetchHealth(url), 'mqtt'),
    );
    // Rules makes its client id its partition's own (cradlewatch-rules-p{i}of{n}); the journal is set here.
    const rules = await startTier(
      'rules',
      'rules serving',
      (part, port) => ({
        mqtt: { url: mqttUrl, ...rulesAccount.login },
        fleetFile,
        ...(part ? { partition: part.setting } : {}),
        journalDir: below(join(dir, 'data', 'rules'), part),
        influx,
        http: {
          host: '127.0.0.1',
          port,
          tokens: [{ token: SUPERVISOR_TOKEN, role: 'supervisor', name: 'bench' }],
        },
      }),
      async (url) => (await fetchHealth(url))?.status === 'ok',
    );
    const rulesUrls = rules.map((r) => r.url);
    return {
      pids: () => ({
        'cradlewatch broker': broker.child.pid,
        [STORE]: store.pid(),
        ...Object.fromEntries([...ingests, ...rules].map((p) => [p.label, p.running.child.pid])),
      }),
      mqttUrl,
      pageUrls: rulesUrls,
      ingestUrls: ingests.map((i) => i.url),
      brokerUrl: `http://127.0.0.1:${brokerPort}`,
      rulesUrls,
      crashed: () => started.map((s) => s.crashed()).filter((c) => c !== undefined),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The services in `topology` (ingest and rules in `partitions` each when split), on `fleetFile`, writing to `influx`. */
export function startServices(
  topology: Topology,
  partitions: number,
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  return topology === 'split'
    ? startSplit(dir, fleetFile, influx, nodeArgs, partitions)
    : startOneProcess(dir, fleetFile, influx, nodeArgs);
}

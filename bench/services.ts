import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localRedisSocket } from '../broker/local-redis.ts';
import { hashPassword } from '../lib/credentials.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { checkPasses, fetchHealth } from '../lib/ops/index.ts';
import { startRedisServer } from '../lib/redis-server.ts';
import { onExit } from './on-exit.ts';
import { type BenchOptions, type InfluxV1, SUPERVISOR_TOKEN } from './options.ts';
import { brokerListFor } from './partitions.ts';

const root = join(import.meta.dirname, '..');

export interface Services {
  /** The cradlewatch processes (and the brokers' redis-server) by the name the table shows. */
  pids: () => Record<string, number | undefined>;
  /** What devices connect to: the broker, or the cluster's brokers comma-separated (taken in turn). */
  mqttUrl: string;
  /** The caregiver page of each rules partition: each streams only its own centres' alerts. */
  pageUrls: string[];
  /** Where each ingest partition's /metrics answers: its own port, or the page's under `cradlewatch up`. */
  ingestUrls: string[];
  /** Where each broker's and each rules partition's /metrics answer (one URL under `cradlewatch up`). */
  brokerUrls: string[];
  rulesUrls: string[];
  /** Which broker each service process uses first, for the progress lines; absent with one broker. */
  layout?: string;
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

/** Where the brokers keep sessions: its row in the table, and what the broker's config says of it. */
interface BrokerStore {
  row: string;
  pid: () => number | undefined;
  setting: { dataDir: string } | { redis: string };
  /** Once the brokers have stopped. */
  stop: () => Promise<void>;
}

/**
 * One broker's store in `storeDir`, its private redis-server (durable sessions, the product's default): its
 * pid, for the table's CPU and memory columns, since it is part of what the broker costs; and shut down on
 * the way out of a failed bench, which kills the broker and so leaves it running. A stopped broker has shut
 * it down itself.
 */
function localStore(storeDir: string): BrokerStore {
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
  return {
    row: "redis-server (the broker's sessions)",
    pid: () => (pid ??= lookUp()),
    setting: { dataDir: storeDir },
    stop: async () => void forget(),
  };
}

/** The redis-server a cluster of brokers shares (loopback, a free port, append-only in `dir`). */
async function clusterStore(dir: string): Promise<BrokerStore> {
  const redis = await startRedisServer(dir);
  const forget = onExit(() => {
    try {
      process.kill(redis.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  return {
    row: "redis-server (the brokers' cluster)",
    pid: () => redis.pid,
    setting: { redis: redis.url },
    stop: async () => {
      await redis.stop();
      forget();
    },
  };
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
  const store = localStore(join(dir, 'data', 'broker'));
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
    pids: () => ({ 'cradlewatch up (broker+ingest+rules)': up.child.pid, [store.row]: store.pid() }),
    mqttUrl: /MQTT broker\s+(\S+)/.exec(output)![1]!,
    pageUrls: [/Caregiver page\s+(\S+)/.exec(output)![1]!],
    ingestUrls: [metricsUrl],
    brokerUrls: [metricsUrl],
    rulesUrls: [metricsUrl],
    crashed: () => [up.crashed()].filter((c) => c !== undefined),
    stop: async () => {
      await up.stop();
      await store.stop();
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
 * (docs/scaling.md), every one with its own client id, directories and port. With `brokers` above 1, that
 * many brokers form one cluster on a redis-server of the run's own (docs/scaling.md's broker tier): the
 * devices' connections go to them in turn, and each service process has its own first broker.
 */
async function startSplit(
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
  { brokers, partitions }: Pick<BenchOptions, 'brokers' | 'partitions'>,
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
  /** A process's name in errors and the layout line (`ingest p0of2`); the table's adds `cradlewatch`. */
  const nameOf = (name: string, suffix: string | undefined) => (suffix ? `${name} ${suffix}` : name);
  /** `cradlewatch <service> --config <dir>/<file>.json`, stopped with the others on the way out. */
  const service = (name: 'broker' | 'ingest' | 'rules', config: unknown, suffix?: string) => {
    const file = join(dir, `${suffix ? `${name}-${suffix}` : name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const child = spawnCradlewatch([name, '--config', file], nodeArgs, {}, nameOf(name, suffix));
    started.push(child);
    return { ...child, name: nameOf(name, suffix), label: `cradlewatch ${nameOf(name, suffix)}` };
  };
  let store: BrokerStore | undefined;
  const stop = async () => {
    for (const s of started.reverse()) await s.stop();
    await store?.stop();
  };
  // One partition runs unpartitioned, as before partitions existed: same ids, directories and names.
  const parts = Array.from({ length: partitions }, (_, i) =>
    partitions > 1 ? partitionOf(i, partitions) : undefined,
  );
  type Part = (typeof parts)[number];
  const below = (path: string, part: Part) => (part ? join(path, part.suffix) : path);
  try {
    // One broker: the product's default, sessions on disk in a private redis-server (here in the bench's
    // dir, not ./data). A cluster: the redis-server they share, in the bench's dir too.
    store =
      brokers > 1 ? await clusterStore(join(dir, 'data', 'redis')) : localStore(join(dir, 'data', 'broker'));
    const { setting } = store;
    const brokerTier = await Promise.all(
      Array.from({ length: brokers }, async (_, i) => {
        const suffix = brokers > 1 ? `b${i}` : undefined;
        const httpPort = await freePort();
        const running = service(
          'broker',
          {
            host: '127.0.0.1',
            port: 0,
            httpPort,
            fleetFile,
            ...setting,
            accounts: [ingestAccount.account, rulesAccount.account],
          },
          suffix,
        );
        await running.ready('the broker', (output) => output.includes('"ready":true'));
        const readyLine = running
          .output()
          .split('\n')
          .find((l) => l.includes('"ready":true'))!;
        return {
          running,
          mqttUrl: (JSON.parse(readyLine) as { mqtt: string }).mqtt,
          metricsUrl: `http://127.0.0.1:${httpPort}`,
        };
      }),
    );
    const brokerMqtt = brokerTier.map((b) => b.mqttUrl);
    /** One `name` process per partition, each on its own HTTP port; resolves once `isUp` holds for all. */
    const startTier = async (
      name: 'ingest' | 'rules',
      what: string,
      configOf: (part: Part, port: number, brokerList: string) => unknown,
      isUp: (url: string) => Promise<boolean>,
    ) => {
      // The ingest partitions take the brokers in turn from the first, the rules partitions after them.
      const before = name === 'rules' ? partitions : 0;
      const tier = await Promise.all(
        parts.map(async (part, i) => {
          const port = await freePort();
          const brokerList = brokerListFor(brokerMqtt, before + i);
          const running = service(name, configOf(part, port, brokerList), part?.suffix);
          return { running, firstBroker: (before + i) % brokers, url: `http://127.0.0.1:${port}` };
        }),
      );
      await Promise.all(tier.map(({ running, url }) => running.ready(what, () => isUp(url))));
      return tier;
    };
    // The two tiers start side by side: neither waits for the other, and seven processes starting one tier
    // after the other took most of a smoke run.
    // Ingest derives nothing from its partition: its client id is given here, as ingest/README.md asks.
    const ingestTier = startTier(
      'ingest',
      'ingest subscribed',
      (part, port, brokerList) => ({
        mqtt: {
          url: brokerList,
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
    const rulesTier = startTier(
      'rules',
      'rules serving',
      (part, port, brokerList) => ({
        mqtt: { url: brokerList, ...rulesAccount.login },
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
    const [ingests, rules] = await Promise.all([ingestTier, rulesTier]);
    const rulesUrls = rules.map((r) => r.url);
    const runningStore = store;
    return {
      pids: () => ({
        ...Object.fromEntries(
          [...brokerTier, ...ingests, ...rules].map(({ running }) => [running.label, running.child.pid]),
        ),
        [runningStore.row]: runningStore.pid(),
      }),
      mqttUrl: brokerMqtt.join(','),
      pageUrls: rulesUrls,
      ingestUrls: ingests.map((i) => i.url),
      brokerUrls: brokerTier.map((b) => b.metricsUrl),
      rulesUrls,
      ...(brokers > 1
        ? {
            layout: brokerTier
              .map((b, i) => {
                const first = [...ingests, ...rules].filter((p) => p.firstBroker === i);
                return `${b.running.name} (${b.mqttUrl}): first broker of ${first.map((p) => p.running.name).join(', ') || 'no service'}`;
              })
              .join('; '),
          }
        : {}),
      crashed: () => started.map((s) => s.crashed()).filter((c) => c !== undefined),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The services in `topology` (when split, `brokers` brokers and ingest and rules in `partitions` each), on
 * `fleetFile`, writing to `influx`.
 */
export function startServices(
  topology: Pick<BenchOptions, 'topology' | 'brokers' | 'partitions'>,
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  return topology.topology === 'split'
    ? startSplit(dir, fleetFile, influx, nodeArgs, topology)
    : startOneProcess(dir, fleetFile, influx, nodeArgs);
}

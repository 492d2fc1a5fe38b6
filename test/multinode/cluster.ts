import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRedis, type RedisServer } from '../support/redis.ts';
import { loadScenario } from '../../device-sim/index.ts';
import { scenarioFleet } from '../support/fleets.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { createServer, type Server } from 'node:net';
import type { Fleet } from '../../protocol/fleet.ts';
import { ServiceProcess } from './processes.ts';
import { startTcpBalancer } from './tcp-balancer.ts';

export const SUPERVISOR = 'multinode-supervisor-token-0123';

/** The chaos scenario's two centres; `stableHash(c) % 2` puts c2 on partition 0 and c1 on partition 1. */
export const SCENARIO = loadScenario('chaos');

/** Influx settings as the `CW_INFLUX_*` env of an ingest process. */
function influxEnv(conn: InfluxConnection): NodeJS.ProcessEnv {
  return conn.api === 'v1'
    ? { CW_INFLUX_API: 'v1', CW_INFLUX_URL: conn.url, CW_INFLUX_DATABASE: conn.database }
    : {
        CW_INFLUX_API: 'v2',
        CW_INFLUX_URL: conn.url,
        CW_INFLUX_TOKEN: conn.token,
        CW_INFLUX_ORG: conn.org,
        CW_INFLUX_BUCKET: conn.bucket,
      };
}

export interface Cluster {
  fleet: Fleet;
  dir: string;
  redis: RedisServer;
  brokers: ServiceProcess[];
  ingest: ServiceProcess[];
  rules: ServiceProcess[];
  frontends: ServiceProcess[];
  /** What devices and caregivers' browsers reach: stand-ins for the operator's load balancers. */
  deviceUrl: string;
  pageUrl: string;
  brokerUrls: string[];
  rulesUrls: string[];
  stop(): Promise<void>;
}

/**
 * Two brokers on one Redis, two ingest and two rules partitions, two alert front ends: each its own
 * process on loopback ports. Services list both brokers, partition 0 the first one first and partition 1
 * the other, so a broker kill moves some of them.
 */
export async function startCluster(options: {
  influx: InfluxConnection;
  speed: number;
  startTime: number;
}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cw-multinode-'));
  const fleet = scenarioFleet(SCENARIO, new Date(options.startTime).toISOString().slice(0, 7)).fleet;
  const fleetFile = join(dir, 'fleet.yaml');
  writeFileSync(fleetFile, stringify(fleet));
  const redis = await startRedis();
  // All at once, each held open until the rest are chosen, so no two services get the same port.
  const all = await distinctPorts(12);
  const take = (n: number) => all.splice(0, n);
  const [b0, b1, bh0, bh1] = take(4);
  const brokers = [
    [b0, bh0],
    [b1, bh1],
  ].map(
    ([port, http], i) =>
      new ServiceProcess(
        `broker-${i}`,
        ['broker', '--fleet', fleetFile, '--allow-anonymous', '--redis', redis.url].concat([
          '--port',
          String(port),
          '--http-port',
          String(http),
        ]),
        `http://127.0.0.1:${http}/healthz`,
      ),
  );
  const brokerUrls = [b0, b1].map((p) => `mqtt://127.0.0.1:${p}`);
  const listFor = (i: number) => (i === 0 ? brokerUrls : [...brokerUrls].reverse()).join(',');
  const ingestPorts = take(2);
  const ingest = ingestPorts.map(
    (http, i) =>
      new ServiceProcess(
        `ingest-${i}`,
        [
          'ingest',
          '--fleet',
          fleetFile,
          '--mqtt-url',
          listFor(i),
          '--client-id',
          `ingest-p${i}`,
          '--partition',
          `${i}/2`,
          '--max-skew',
          'off',
          '--spool-dir',
          join(dir, `spool-${i}`),
          '--deadletter-dir',
          join(dir, `deadletter-${i}`),
          '--http-port',
          String(http),
        ],
        `http://127.0.0.1:${http}/healthz`,
        influxEnv(options.influx),
      ),
  );
  const tokens = [{ token: SUPERVISOR, role: 'supervisor', name: 'head-teacher' }];
  const rulesPorts = take(2);
  const rules = rulesPorts.map((http, i) => {
    const file = join(dir, `rules-${i}.yaml`);
    writeFileSync(
      file,
      stringify({
        mqtt: { url: listFor(i) },
        partition: `${i}/2`,
        fleetFile,
        journalDir: join(dir, `journal-${i}`),
        clock: { mode: 'device', speed: options.speed },
        maxClockSkewMs: 'off',
        http: { port: http, tokens },
        channels: { history: { enabled: false } },
      }),
    );
    return new ServiceProcess(`rules-${i}`, ['rules', '--config', file], `http://127.0.0.1:${http}/healthz`);
  });
  const frontPorts = take(2);
  const frontends = frontPorts.map((http, i) => {
    const file = join(dir, `frontend-${i}.yaml`);
    const mqtt = { url: listFor(i), clientId: `frontend-${i}` };
    writeFileSync(file, stringify({ mqtt, fleetFile, http: { port: http, tokens } }));
    return new ServiceProcess(
      `frontend-${i}`,
      ['frontend', '--config', file],
      `http://127.0.0.1:${http}/healthz`,
    );
  });

  await Promise.all(brokers.map((b) => b.start()));
  await Promise.all([...ingest, ...rules, ...frontends].map((s) => s.start()));
  const deviceLb = await startTcpBalancer([b0!, b1!], 'round-robin');
  const pageLb = await startTcpBalancer(frontPorts, 'first-alive');
  const services = [...frontends, ...rules, ...ingest, ...brokers];
  return {
    fleet,
    dir,
    redis,
    brokers,
    ingest,
    rules,
    frontends,
    deviceUrl: `mqtt://127.0.0.1:${deviceLb.port}`,
    pageUrl: `http://127.0.0.1:${pageLb.port}`,
    brokerUrls,
    rulesUrls: rulesPorts.map((p) => `http://127.0.0.1:${p}`),
    async stop() {
      await Promise.all([deviceLb.close(), pageLb.close()]);
      await Promise.all(services.map((s) => s.stop()));
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function distinctPorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

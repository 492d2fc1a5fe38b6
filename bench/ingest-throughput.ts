/**
 * Sustained readings/s from an MQTT publisher through a broker and `cradlewatch ingest` into InfluxDB, all on
 * this machine and on loopback: Debian's mosquitto and a private influxd on free ports, ingest as a child
 * process (its CPU and RSS sampled with pidusage), the publisher here. Bounded: each scenario publishes for
 * BENCH_SECONDS (default 10) or until BENCH_MAX_READINGS (default 600,000) and waits at most 60 s for InfluxDB to
 * hold every reading.
 *
 *   npx tsx bench/ingest-throughput.ts            # single readings and device batches of 10
 *   BENCH_SECONDS=30 npx tsx bench/ingest-throughput.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pidusage from 'pidusage';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { ensureDatabase, influxRows } from '../lib/influx/query.ts';
import { startInfluxd } from '../lib/influx/server.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { checkPasses, fetchHealth } from '../lib/ops/index.ts';
import {
  WEARABLES,
  deviceTopic,
  publisher,
  tempDir,
  wearable,
  writeFleetFile,
} from '../test/support/ingest.ts';
import { startMosquitto } from '../test/support/mosquitto.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** The broker queues what ingest has not taken yet; this cap keeps that backlog and the run bounded. */
const MAX_READINGS = Number(process.env.BENCH_MAX_READINGS ?? 600_000);
/** QoS 1 publishes awaiting the broker's PUBACK at once: enough to keep the pipe full, bounded for memory. */
const WINDOW = 256;
const root = fileURLToPath(new URL('..', import.meta.url));

interface Result {
  scenario: string;
  messages: number;
  readings: number;
  seconds: number;
  readingsPerS: number;
  messagesPerS: number;
  ingestCpuPct: number;
  ingestRssMb: number;
}

async function count(conn: InfluxConnection): Promise<number> {
  const rows = await influxRows(conn, 'SELECT count("seq") FROM "wearable"');
  return Number(rows[0]?.count ?? 0);
}

async function spawnIngest(
  conn: Extract<InfluxConnection, { api: 'v1' }>,
  mqttUrl: string,
  dir: string,
): Promise<ChildProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/cradlewatch.mjs'),
      'ingest',
      '--fleet',
      writeFleetFile(dir),
      '--mqtt-url',
      mqttUrl,
      '--client-id',
      `bench-${Date.now()}`,
      '--spool-dir',
      join(dir, 'spool'),
      '--deadletter-dir',
      join(dir, 'deadletter'),
      '--http-port',
      String(port),
      '--max-skew',
      'off',
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        CW_INFLUX_API: 'v1',
        CW_INFLUX_URL: conn.url,
        CW_INFLUX_DATABASE: conn.database,
        CW_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitFor(async () => checkPasses(await fetchHealth(`http://127.0.0.1:${port}`), 'mqtt'), {
    what: 'ingest',
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  // Let the subscription settle before the clock starts.
  await new Promise((r) => setTimeout(r, 500));
  return child;
}

async function scenario(
  name: string,
  perMessage: number,
  influxUrl: string,
  mqttUrl: string,
): Promise<Result> {
  const conn = { api: 'v1' as const, url: influxUrl, database: `bench_${perMessage}_${Date.now()}` };
  await ensureDatabase(conn);
  const dir = tempDir('cw-bench-');
  const ingest = await spawnIngest(conn, mqttUrl, dir);
  const pub = await publisher(mqttUrl);
  const cpuBefore = await pidusage(ingest.pid!);
  const started = performance.now();
  const deadline = started + SECONDS * 1_000;
  let messages = 0;
  let readings = 0;
  let rss = 0;
  const sampler = setInterval(() => {
    pidusage(ingest.pid!).then(
      (s) => (rss = Math.max(rss, s.memory)),
      () => {},
    );
  }, 1_000);
  const lane = async (lane: number) => {
    while (performance.now() < deadline && readings < MAX_READINGS) {
      const device = WEARABLES[(messages + lane) % WEARABLES.length]!;
      const body =
        perMessage === 1
          ? { v: 1, ...wearable() }
          : { v: 1, batch: Array.from({ length: perMessage }, () => wearable()) };
      messages++;
      readings += perMessage;
      await pub.publishAsync(deviceTopic(device), JSON.stringify(body), { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, (_, i) => lane(i)));
  await waitFor(async () => (await count(conn)) >= readings, {
    what: `${readings} points`,
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  const seconds = (performance.now() - started) / 1_000;
  clearInterval(sampler);
  const cpuAfter = await pidusage(ingest.pid!);
  const written = await count(conn);
  if (written !== readings) throw new Error(`${name}: ${readings} published, ${written} in InfluxDB`);
  await pub.endAsync();
  const gone = new Promise((r) => ingest.once('exit', r));
  ingest.kill('SIGTERM');
  await gone;
  rmSync(dir, { recursive: true, force: true });
  return {
    scenario: name,
    messages,
    readings,
    seconds: Number(seconds.toFixed(1)),
    readingsPerS: Math.round(readings / seconds),
    messagesPerS: Math.round(messages / seconds),
    // pidusage reports ctime in ms of CPU (user + system, all threads) since the process started.
    ingestCpuPct: Math.round(((cpuAfter.ctime - cpuBefore.ctime) / 1_000 / seconds) * 100),
    ingestRssMb: Math.round(Math.max(rss, cpuAfter.memory) / 1024 / 1024),
  };
}

async function main(): Promise<void> {
  const [influxd, broker] = await Promise.all([startInfluxd(), startMosquitto()]);
  const results: Result[] = [];
  try {
    results.push(await scenario('single readings', 1, influxd.url, broker.url));
    results.push(await scenario('device batches of 10', 10, influxd.url, broker.url));
  } finally {
    await broker.stop();
    await influxd.stop();
  }
  console.log(
    `\ningest throughput: publisher → mosquitto → ingest → influxd ${SECONDS} s per scenario, QoS 1, loopback`,
  );
  console.table(results);
  console.log(
    'ingestCpuPct is percent of one core (100 = one full core) over the run, including the drain to InfluxDB.',
  );
}

await main();

/**
 * One-key alarm press → SSE event latency while telemetry flows through the same broker.
 *
 *   npx tsx bench/alarm-latency.ts [--presses 200] [--rate 5000] [--interval-ms 50]
 *
 * The project broker runs in this process, the rules service as its own process (`cradlewatch rules`),
 * telemetry arrives as room-gateway batches of 100 readings (docs/design.md: city scale comes from batching),
 * and an SSE client on /api/alerts/stream times each press from publish to event. Prints a table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventSource } from 'eventsource';
import hdr from 'hdr-histogram-js';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { brokerConfigSchema, startBroker } from '../broker/index.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { silentLogger } from '../lib/logger.ts';
import type { AlertTransition } from '../protocol/alerts.ts';
import { FleetIndex, fleetSchema } from '../protocol/fleet.ts';
import { topics } from '../protocol/topics.ts';

const { values: args } = parseArgs({
  options: {
    presses: { type: 'string', default: '200' },
    rate: { type: 'string', default: '5000' },
    'interval-ms': { type: 'string', default: '50' },
    rooms: { type: 'string', default: '50' },
  },
});
const PRESSES = Number(args.presses);
const RATE = Number(args.rate);
const INTERVAL = Number(args['interval-ms']);
const ROOMS = Number(args.rooms);
const PER_ROOM = 20;
const TOKEN = 'bench-supervisor-token-0123456789';

const doc = {
  centers: [{ id: 'bench', name: 'Bench centre', timezone: 'Asia/Shanghai' }],
  rooms: Array.from({ length: ROOMS }, (_, r) => ({ id: `r${r}`, center: 'bench', name: `room ${r}` })),
  infants: Array.from({ length: ROOMS * PER_ROOM }, (_, i) => ({
    id: `i${i}`,
    center: 'bench',
    room: `r${Math.floor(i / PER_ROOM)}`,
    birthMonth: '2026-01',
    displayName: `Infant ${i}`,
  })),
  devices: [
    ...Array.from({ length: ROOMS * PER_ROOM }, (_, i) => ({
      id: `w${i}`,
      kind: 'wearable',
      center: 'bench',
      room: `r${Math.floor(i / PER_ROOM)}`,
      infant: `i${i}`,
    })),
    ...Array.from({ length: ROOMS }, (_, r) => ({
      id: `gw${r}`,
      kind: 'gateway',
      center: 'bench',
      room: `r${r}`,
    })),
    ...Array.from({ length: ROOMS }, (_, r) => ({
      id: `btn${r}`,
      kind: 'alarm',
      center: 'bench',
      room: `r${r}`,
    })),
  ],
};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'cw-bench-alarm-'));
  const fleetFile = join(dir, 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify(doc));
  const brokerConfig = brokerConfigSchema.parse({
    port: 0,
    allowAnonymous: true,
    limits: { publishRate: 100_000, publishBurst: 100_000 },
  });
  const broker = await startBroker(brokerConfig, silentLogger, {
    fleet: new FleetIndex(fleetSchema.parse(doc)),
  });
  const httpPort = await freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const configFile = join(dir, 'rules.yaml');
  writeFileSync(
    configFile,
    stringify({
      mqtt: { url: broker.mqttUrl, clientId: 'bench-rules' },
      fleetFile,
      journalDir: join(dir, 'journal'),
      http: { port: httpPort, tokens: [{ token: TOKEN, role: 'supervisor', name: 'bench' }] },
      channels: { history: { enabled: false } },
      rules: { defaults: { monitoringLost: { silenceS: 3600 }, lifecycle: { reminderS: { critical: 0 } } } },
    }),
  );
  const rules: ChildProcess = spawn(
    process.execPath,
    ['bin/cradlewatch.mjs', 'rules', '--config', configFile],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, CW_LOG_LEVEL: 'warn' },
    },
  );
  await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok === true, {
    what: 'rules',
    timeoutMs: 30_000,
  });

  const sent = new Map<string, number>();
  const latencies = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000,
    numberOfSignificantValueDigits: 3,
  });
  let matched = 0;
  const source = new EventSource(`${url}/api/alerts/stream?token=${TOKEN}`);
  source.addEventListener('alert', (event) => {
    const t = JSON.parse(event.data) as AlertTransition;
    if (t.alert.rule !== 'one-key-alarm' || (t.kind !== 'raised' && t.kind !== 'renotified')) return;
    const key = `${t.alert.subject.id}@${t.alert.updatedAt}`;
    const at = sent.get(key);
    if (at === undefined) return;
    sent.delete(key);
    latencies.recordValue(Math.max(1, Math.round(performance.now() - at)));
    matched++;
  });
  await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }));

  // Telemetry: one connection per 10 gateways, each gateway one batch of 100 readings per tick.
  const gateways = Array.from({ length: ROOMS }, (_, r) => r);
  const loadClients = await Promise.all(
    Array.from({ length: Math.ceil(ROOMS / 10) }, () => mqtt.connectAsync(broker.mqttUrl)),
  );
  const batchesPerSecond = RATE / 100;
  let seq = 0;
  let readings = 0;
  let stopLoad = false;
  const load = (async () => {
    const start = performance.now();
    let batches = 0;
    while (!stopLoad) {
      const due = Math.floor(((performance.now() - start) / 1000) * batchesPerSecond);
      for (; batches < due; batches++) {
        const r = gateways[batches % ROOMS]!;
        const now = Date.now();
        const batch = Array.from({ length: 100 }, (_, k) => ({
          device: `w${r * PER_ROOM + (k % PER_ROOM)}`,
          ts: now - 100 + k,
          seq: seq++,
          posture: 'supine',
          skinTempC: 36.5,
          motion: 0.3,
          worn: true,
          battery: 80,
        }));
        loadClients[r % loadClients.length]!.publish(
          topics.gatewayTelemetry('bench', `gw${r}`),
          JSON.stringify({ v: 1, batch }),
          { qos: 0 },
        );
        readings += 100;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const presser = await mqtt.connectAsync(broker.mqttUrl);
  const loadStart = performance.now();
  const readingsAtStart = readings;
  for (let i = 0; i < PRESSES; i++) {
    const button = `btn${i % ROOMS}`;
    const ts = Date.now() + i; // distinct per press even within one millisecond
    sent.set(`${button}@${ts}`, performance.now());
    presser.publish(
      topics.deviceAlarm('bench', button),
      JSON.stringify({ v: 1, ts, seq: i, event: 'pressed' }),
      {
        qos: 1,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, INTERVAL));
  }
  await waitFor(() => matched >= PRESSES, { what: 'every press on SSE', timeoutMs: 30_000 }).catch(
    () => undefined,
  );
  const seconds = (performance.now() - loadStart) / 1000;
  const achieved = Math.round((readings - readingsAtStart) / seconds);
  stopLoad = true;
  await load;

  console.table([
    {
      presses: PRESSES,
      'seen on SSE': matched,
      'telemetry readings/s offered': achieved,
      'p50 ms': latencies.getValueAtPercentile(50),
      'p99 ms': latencies.getValueAtPercentile(99),
      'max ms': latencies.maxValue,
    },
  ]);
  source.close();
  await presser.endAsync();
  await Promise.all(loadClients.map((c) => c.endAsync()));
  rules.kill('SIGTERM');
  await new Promise((resolve) => rules.once('exit', resolve));
  await broker.close();
  process.exit(matched >= PRESSES ? 0 : 1);
}

await main();

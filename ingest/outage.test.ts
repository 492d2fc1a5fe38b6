import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { ensureDatabase } from '../lib/influx/query.ts';
import { type RunningInfluxd, startInfluxd } from '../lib/influx/server.ts';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import type { Health } from '../protocol/health.ts';
import { countPoints } from '../test/support/influx.ts';
import { uniqueName } from '../test/support/influx-provider.ts';
import { type Ingest, startIngest } from './service.ts';
import {
  WEARABLES,
  deviceTopic,
  publisher,
  tempDir,
  testConfig,
  testFleetIndex,
  wearable,
} from '../test/support/ingest.ts';
import { type RunningMosquitto, startMosquitto } from '../test/support/mosquitto.ts';

/** The issue asks for a 60 s outage; CI keeps it short. CW_INGEST_OUTAGE_SECONDS=60 runs the long one. */
const OUTAGE_MS = Number(process.env.CW_INGEST_OUTAGE_SECONDS ?? 8) * 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Device batches of 10 at a steady pace until stopped; `sent` counts readings. */
function stream(pub: MqttClient) {
  const state = { sent: 0, stop: false, done: Promise.resolve() };
  state.done = (async () => {
    while (!state.stop) {
      const batch = Array.from({ length: 10 }, () => wearable());
      await pub.publishAsync(
        deviceTopic(WEARABLES[state.sent % WEARABLES.length]!),
        JSON.stringify({ v: 1, batch }),
        { qos: 1 },
      );
      state.sent += batch.length;
      await sleep(10);
    }
  })();
  return state;
}

describe('InfluxDB outage', () => {
  let influxd: RunningInfluxd;
  let broker: RunningMosquitto;
  let pub: MqttClient;
  const running: Ingest[] = [];
  const flows: ReturnType<typeof stream>[] = [];

  beforeAll(async () => {
    [influxd, broker] = await Promise.all([startInfluxd(), startMosquitto()]);
    pub = await publisher(broker.url);
  });

  afterAll(async () => {
    // A failed assertion leaves its stream publishing; stop it before the publisher ends under it.
    for (const flow of flows) flow.stop = true;
    await Promise.all(flows.map((f) => f.done.catch(() => {})));
    await pub?.endAsync();
    for (const ingest of running) await ingest.close().catch(() => {});
    await broker?.stop();
    await influxd?.stop();
  });

  async function start(
    overrides: Parameters<typeof testConfig>[2] = {},
  ): Promise<{ ingest: Ingest; influx: InfluxConnection }> {
    const influx: InfluxConnection = { api: 'v1', url: influxd.url, database: uniqueName() };
    await ensureDatabase(influx);
    const ingest = await startIngest(testConfig(influx, broker.url, overrides), silentLogger, {
      fleet: testFleetIndex(),
    });
    running.push(ingest);
    await waitFor(
      async () => {
        await pub.publishAsync(deviceTopic('w9'), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
        return ingest.stats().received > 0;
      },
      { what: 'ingest subscribed', intervalMs: 200 },
    );
    return { ingest, influx };
  }

  /** ingest's /healthz: the HTTP status and the failing checks' reasons by name. */
  const health = async (ingest: Ingest) => {
    const response = await fetch(`${ingest.httpUrl}/healthz`);
    const body = (await response.json()) as Health;
    const failing = Object.fromEntries(body.checks.filter((c) => !c.ok).map((c) => [c.name, c.reason]));
    return { http: response.status, status: body.status, failing };
  };
  const notProbe = `"device" != 'w9'`;

  it(`spools through a ${OUTAGE_MS / 1000} s outage mid-stream and drains: every reading once`, async () => {
    const { ingest, influx } = await start();
    const flow = stream(pub);
    flows.push(flow);
    await sleep(1_500);
    await influxd.process.kill('SIGKILL');
    await waitFor(() => ingest.stats().spoolBytes > 0, { what: 'spooling', timeoutMs: 15_000 });
    expect(await health(ingest)).toEqual({
      http: 503,
      status: 'fail',
      failing: { influx: expect.stringMatching(/unreachable/) },
    });
    await sleep(OUTAGE_MS);
    await influxd.restart();
    await sleep(1_500);
    flow.stop = true;
    await flow.done;
    await waitFor(async () => (await countPoints(influx, 'wearable', 'seq', notProbe)) >= flow.sent, {
      what: `${flow.sent} points`,
      timeoutMs: 30_000,
    });
    expect(await countPoints(influx, 'wearable', 'seq', notProbe)).toBe(flow.sent);
    expect(ingest.stats().spooled).toBeGreaterThan(0);
    await waitFor(() => ingest.stats().spoolBytes === 0, { what: 'spool drained' });
    expect(await health(ingest)).toEqual({ http: 200, status: 'ok', failing: {} });
  });

  it('stops acknowledging before the spool is full and loses nothing (back-pressure)', async () => {
    const { ingest, influx } = await start({
      spool: { dir: join(tempDir(), 'spool'), maxBytes: 32 * 1024, segmentBytes: 8 * 1024 },
      batch: { intervalMs: 50, maxQueued: 2 },
    });
    await influxd.process.kill('SIGKILL');
    await waitFor(() => !ingest.stats().influxUp || ingest.stats().pendingAcks === 0, {
      what: 'outage noticed',
    });
    const flow = stream(pub);
    flows.push(flow);
    // Blocked behind the full spool, not merely behind a write still retrying against the dead InfluxDB.
    await waitFor(
      async () => {
        const { failing } = await health(ingest);
        return 'backpressure' in failing && /spool full/.test(failing.spool ?? '');
      },
      { what: 'blocked by the full spool', timeoutMs: 20_000 },
    );
    const held = ingest.stats();
    expect(held.spoolBytes).toBeLessThanOrEqual(32 * 1024);
    expect(held.pendingAcks).toBeGreaterThan(0);
    const sentWhenBlocked = flow.sent;
    await sleep(1_000);
    // Blocked means not reading: the broker holds what the publisher keeps sending. One message may
    // still come in: when a timer seals the batch that blocks, the last one taken had already been let
    // through, so mqtt.js hands over the packet it read next and no more.
    expect(flow.sent).toBeGreaterThan(sentWhenBlocked);
    expect(ingest.stats().received - held.received).toBeLessThanOrEqual(1);
    flow.stop = true;
    await flow.done;
    await influxd.restart();
    await waitFor(async () => (await countPoints(influx, 'wearable', 'seq', notProbe)) >= flow.sent, {
      what: `${flow.sent} points`,
      timeoutMs: 30_000,
    });
    expect(await countPoints(influx, 'wearable', 'seq', notProbe)).toBe(flow.sent);
  });

  it('shuts down while blocked behind the full spool; what it had not stored comes back next session', async () => {
    const mqtt = {
      url: broker.url,
      clientId: uniqueName('ingest'),
      reconnectMinMs: 100,
      reconnectMaxMs: 1_000,
    };
    const spool = { dir: join(tempDir(), 'spool'), maxBytes: 32 * 1024, segmentBytes: 8 * 1024 };
    const first = await start({ mqtt, spool, batch: { intervalMs: 50, maxQueued: 2 } });
    await influxd.process.kill('SIGKILL');
    const flow = stream(pub);
    flows.push(flow);
    await waitFor(async () => 'backpressure' in (await health(first.ingest)).failing, {
      what: 'blocked by the full spool',
      timeoutMs: 20_000,
    });
    // Time for the broker to fill its in-flight window: the socket then holds more than ingest reads.
    await sleep(1_000);
    // A disconnect waits for the broker to close its end, which only a socket still being read sees:
    // this close hung for good while a blocked ingest stopped reading to stop taking messages.
    await expect(first.ingest.close()).rejects.toThrow(/InfluxDB is down and the spool cannot take/);
    flow.stop = true;
    await flow.done;
    await influxd.restart();
    const second = await startIngest(testConfig(first.influx, broker.url, { mqtt, spool }), silentLogger, {
      fleet: testFleetIndex(),
    });
    running.push(second);
    await waitFor(async () => (await countPoints(first.influx, 'wearable', 'seq', notProbe)) >= flow.sent, {
      what: `${flow.sent} points`,
      timeoutMs: 30_000,
    });
    expect(await countPoints(first.influx, 'wearable', 'seq', notProbe)).toBe(flow.sent);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { checkPasses, fetchHealth, scrapeMetric } from '../lib/ops/index.ts';
import { countPoints, freshInflux } from '../test/support/influx.ts';
import {
  WEARABLES,
  deviceTopic,
  publisher,
  tempDir,
  wearable,
  writeFleetFile,
} from '../test/support/ingest.ts';
import { type RunningMosquitto, startMosquitto } from '../test/support/mosquitto.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Child {
  process: ChildProcess;
  metricsUrl: string;
  output(): string;
}

/** `node bin/cradlewatch.mjs ingest` as a real child process, configured through env and flags. */
async function spawnIngest(
  influx: InfluxConnection,
  mqttUrl: string,
  dir: string,
  clientId: string,
  extra: string[] = [],
): Promise<Child> {
  if (influx.api !== 'v1') throw new Error('this test drives the v1 env; extend it for v2');
  const port = await freePort();
  let output = '';
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
      clientId,
      '--spool-dir',
      join(dir, 'spool'),
      '--deadletter-dir',
      join(dir, 'deadletter'),
      '--http-port',
      String(port),
      ...extra,
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        CW_INFLUX_API: 'v1',
        CW_INFLUX_URL: influx.url,
        CW_INFLUX_DATABASE: influx.database,
        CW_LOG_FORMAT: 'json',
        CW_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.stderr?.on('data', (d) => (output = (output + d).slice(-20_000)));
  const metricsUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`ingest exited ${child.exitCode}:\n${output}`);
      return checkPasses(await fetchHealth(metricsUrl), 'mqtt');
    },
    { what: 'ingest child connected', timeoutMs: 20_000, intervalMs: 200 },
  );
  return { process: child, metricsUrl, output: () => output };
}

function metric(child: Child, name: string): Promise<number> {
  return scrapeMetric(child.metricsUrl, name);
}

function kill9(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.process.once('exit', () => resolve());
    child.process.kill('SIGKILL');
  });
}

async function terminate(child: Child | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  const gone = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill('SIGTERM');
  await gone;
}

/** Publishes to w9 until the child's persistent session is subscribed (w9 is left out of every count). */
async function untilSubscribed(pub: MqttClient, child: Child): Promise<void> {
  await waitFor(
    async () => {
      await pub.publishAsync(deviceTopic('w9'), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
      return (await metric(child, 'cradlewatch_ingest_received_total')) > 0;
    },
    { what: 'subscription', intervalMs: 200, timeoutMs: 15_000 },
  );
}

const notProbe = `"device" != 'w9'`;

describe('ingest as a child process under SIGKILL', () => {
  let broker: RunningMosquitto;
  let pub: MqttClient;
  const children: Child[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    pub = await publisher(broker.url);
  });

  afterAll(async () => {
    await pub?.endAsync();
    for (const child of children) await terminate(child);
    await broker?.stop();
  });

  it('holds PUBACKs until the batch is durable without serialising: kill -9 before the flush → redelivered', async () => {
    const influx = await freshInflux();
    const dir = tempDir();
    const clientId = 'ingest-puback';
    // A flush far in the future: every message is taken in, none can be durable, none may be acknowledged.
    const first = await spawnIngest(influx, broker.url, dir, clientId, [
      '--flush-interval',
      '600000',
      '--flush-idle',
      '600000',
      '--batch-size',
      '100000',
    ]);
    children.push(first);
    await untilSubscribed(pub, first);
    const n = 300;
    for (let i = 0; i < n; i++) {
      await pub.publishAsync(
        deviceTopic(WEARABLES[i % WEARABLES.length]!),
        JSON.stringify({ v: 1, ...wearable() }),
        { qos: 1 },
      );
    }
    // All n arrive while none is acknowledged: mqtt.js was not held to one message per flush.
    await waitFor(async () => (await metric(first, 'cradlewatch_ingest_received_total')) >= n + 1, {
      what: 'all received',
    });
    expect(await metric(first, 'cradlewatch_ingest_pending_acks')).toBeGreaterThanOrEqual(n);
    await kill9(first);
    expect(await countPoints(influx, 'wearable', 'seq', notProbe)).toBe(0);

    const second = await spawnIngest(influx, broker.url, dir, clientId);
    children.push(second);
    await waitFor(async () => (await countPoints(influx, 'wearable', 'seq', notProbe)) >= n, {
      what: `${n} redelivered points`,
      timeoutMs: 20_000,
    });
    expect(await countPoints(influx, 'wearable', 'seq', notProbe)).toBe(n);
    await terminate(second);
  });

  it('loses nothing when killed mid-stream and started again', async () => {
    const influx = await freshInflux();
    const dir = tempDir();
    const clientId = 'ingest-crash';
    const first = await spawnIngest(influx, broker.url, dir, clientId);
    children.push(first);
    await untilSubscribed(pub, first);
    let sent = 0;
    let stop = false;
    const stream = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 10 }, () => wearable());
        await pub.publishAsync(
          deviceTopic(WEARABLES[sent % WEARABLES.length]!),
          JSON.stringify({ v: 1, batch }),
          { qos: 1 },
        );
        sent += batch.length;
        if (sent % 200 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await waitFor(async () => (await metric(first, 'cradlewatch_ingest_written_total')) > 500, {
      what: 'stream flowing',
    });
    await kill9(first);
    await new Promise((r) => setTimeout(r, 1_000));
    const second = await spawnIngest(influx, broker.url, dir, clientId);
    children.push(second);
    await new Promise((r) => setTimeout(r, 1_500));
    stop = true;
    await stream;
    await waitFor(async () => (await countPoints(influx, 'wearable', 'seq', notProbe)) >= sent, {
      what: `${sent} points`,
      timeoutMs: 30_000,
    });
    expect(await countPoints(influx, 'wearable', 'seq', notProbe)).toBe(sent);
    await terminate(second);
    expect(second.process.exitCode).toBe(0);
  });
});

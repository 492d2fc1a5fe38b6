import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertTransition } from '../protocol/alerts.ts';
import { stopLocalRedis } from '../broker/local-redis.ts';
import { influxRows } from '../lib/influx/query.ts';
import { waitFor } from '../lib/net.ts';
import { sampleSum } from '../lib/ops/index.ts';
import { healthSchema } from '../protocol/health.ts';
import { promtoolCheck } from './support/promtool.ts';

const root = join(import.meta.dirname, '..');

interface Started {
  child: ChildProcess;
  output: () => string;
  dataDir: string;
}

/** Starts the command a user types, with its data and ports kept away from a developer's own `npm start`. */
function start(command: string, args: string[], env: Record<string, string> = {}): Started {
  const dataDir = mkdtempSync(join(tmpdir(), 'cw-up-'));
  let output = '';
  const child = spawn(command, args, {
    cwd: root,
    env: {
      ...process.env,
      CW_DATA_DIR: dataDir,
      CW_MQTT_PORT: '0',
      CW_HTTP_PORT: '0',
      CW_LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output, dataDir };
}

function banner(started: Started) {
  const page = /Caregiver page\s+(http:\/\/[^/\s]+)\/\?token=(\S+)/.exec(started.output());
  const influx = /InfluxDB\s+(http:\/\/127\.0\.0\.1:\d+) \(private influxd/.exec(started.output());
  return page ? { url: page[1]!, token: page[2]!, influxUrl: influx?.[1] } : undefined;
}

function firstAlarm(url: string, token: string): Promise<AlertTransition> {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`${url}/api/alerts/stream`, {
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } }),
    });
    const timer = setTimeout(() => {
      source.close();
      reject(new Error('no one-key alarm on the SSE stream within 60 s'));
    }, 60_000);
    source.addEventListener('alert', (event) => {
      const transition = JSON.parse(event.data) as AlertTransition;
      if (transition.alert.rule !== 'one-key-alarm') return;
      clearTimeout(timer);
      source.close();
      resolve(transition);
    });
  });
}

async function stop(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill('SIGTERM');
  return exited;
}

function processesUsing(dir: string): string {
  return spawnSync('pgrep', ['-af', dir], { encoding: 'utf8' }).stdout.trim();
}

let current: Started | undefined;
afterEach(async () => {
  if (current && current.child.exitCode === null) current.child.kill('SIGKILL');
  // A process killed with -9 leaves the broker's store running (the next start adopts it).
  if (current) await stopLocalRedis(join(current.dataDir, 'broker'));
  if (current) rmSync(current.dataDir, { recursive: true, force: true });
  current = undefined;
});

describe('npm start', () => {
  it('shows the banner, delivers a one-key alarm on SSE and lands readings in InfluxDB, then stops cleanly on SIGTERM (exit 0, no orphans)', async () => {
    const started = start('npm', ['start', '--silent']);
    current = started;
    await waitFor(() => banner(started) !== undefined, {
      timeoutMs: 45_000,
      what: `the banner in:\n${started.output()}`,
    });
    const { url, token, influxUrl } = banner(started)!;
    expect(influxUrl, 'a private influxd is on PATH here').toBeDefined();

    const alarm = await firstAlarm(url, token);
    expect(alarm.alert.center).toBe('c1');
    expect(alarm.alert.severity).toBe('critical');

    const conn = { api: 'v1' as const, url: influxUrl!, database: 'cradlewatch' };
    await waitFor(
      async () => Number((await influxRows(conn, 'SELECT count(seq) FROM wearable'))[0]?.count ?? 0) > 0,
      {
        timeoutMs: 20_000,
        what: 'wearable readings in InfluxDB',
      },
    );

    // One endpoint answers for the three services of the process, in the shared shape.
    const health = await fetch(`${url}/healthz`);
    const body = healthSchema.parse(await health.json());
    expect([health.status, body.status, body.service]).toEqual([200, 'ok', 'cradlewatch']);
    expect(body.checks.filter((c) => !c.ok)).toEqual([]);
    expect(new Set(body.checks.map((c) => c.name.split('.')[0]))).toEqual(
      new Set(['broker', 'ingest', 'rules']),
    );
    expect(body.checks).toContainEqual({ name: 'broker.mqtt', ok: true });
    expect(body.checks).toContainEqual({ name: 'ingest.mqtt', ok: true });
    expect(body.checks).toContainEqual({ name: 'rules.mqtt', ok: true });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(sampleSum(metrics, 'cradlewatch_broker_clients_connected')).toBeGreaterThan(0);
    expect(sampleSum(metrics, 'cradlewatch_ingest_written_total')).toBeGreaterThan(0);
    expect(sampleSum(metrics, 'cradlewatch_rules_open_alerts', { severity: 'critical' })).toBeGreaterThan(0);
    expect(promtoolCheck(metrics)).toEqual({ code: 0, output: '' });
    // Every metric the services serve is in the one table, with its type.
    const documented = readFileSync(join(root, 'docs/metrics.md'), 'utf8');
    const served = [...metrics.matchAll(/^# TYPE (cradlewatch_\w+) (\w+)$/gm)].map(
      ([, name, type]) => `${name} ${type}`,
    );
    const table = new Set(
      [...documented.matchAll(/^\| `(cradlewatch_\w+)` \| (\w+) \|/gm)].map(
        ([, name, type]) => `${name} ${type}`,
      ),
    );
    expect(served.length).toBeGreaterThan(20);
    expect(served.filter((metric) => !table.has(metric))).toEqual([]);
    expect(await stop(started)).toBe(0);
    expect(
      existsSync(join(started.dataDir, 'broker', 'appendonlydir')),
      "the broker's sessions on disk",
    ).toBe(true);
    expect(processesUsing(started.dataDir), 'no orphan process (influxd and redis-server included)').toBe('');
  }, 90_000);

  it('without influxd on PATH still delivers alerts, and the banner says readings are spooled', async () => {
    const started = start('node', ['bin/cradlewatch.mjs', 'up', '--demo'], {
      CW_INFLUXD: 'cw-no-such-influxd',
    });
    current = started;
    await waitFor(() => banner(started) !== undefined, {
      timeoutMs: 45_000,
      what: `the banner in:\n${started.output()}`,
    });
    expect(started.output()).toMatch(/no influxd on PATH\. Readings are being spooled to/);
    const { url, token } = banner(started)!;
    const alarm = await firstAlarm(url, token);
    expect(alarm.alert.rule).toBe('one-key-alarm');
    expect(await stop(started)).toBe(0);
  }, 90_000);

  it('refuses a bad config value naming the field, with exit 2', () => {
    const result = spawnSync('node', ['bin/cradlewatch.mjs', 'up', '--demo', '--print-config'], {
      cwd: root,
      env: { ...process.env, CW_HTTP_PORT: 'not-a-port' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/httpPort \(env CW_HTTP_PORT\)/);
  });

  it('prints the effective config with secrets masked', () => {
    const result = spawnSync('node', ['bin/cradlewatch.mjs', 'up', '--demo', '--print-config'], {
      cwd: root,
      env: {
        ...process.env,
        CW_INFLUX_URL: 'http://127.0.0.1:9',
        CW_INFLUX_API: 'v2',
        CW_INFLUX_TOKEN: 'very-secret',
        CW_INFLUX_ORG: 'o',
        CW_INFLUX_BUCKET: 'b',
      },
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.influx.token).toBe('***');
    expect(printed.demo).toBe(true);
    expect(result.stdout).not.toContain('very-secret');
  });
});

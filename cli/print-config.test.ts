import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from './main.ts';

const dir = mkdtempSync(join(tmpdir(), 'cw-print-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** Runs `cradlewatch … --print-config` in this process and returns what it printed; it starts nothing. */
async function printed(argv: string[], env: Record<string, string> = {}): Promise<unknown> {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
  await buildProgram().parseAsync([...argv, '--print-config'], { from: 'user' });
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!);
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('--print-config: the merged config of file, env and flags, secrets masked', () => {
  it('broker', async () => {
    const config = file(
      'broker.yaml',
      'accounts:\n  - { username: ingest, role: ingest, passwordHash: "scrypt$16384$8$1$c2FsdA$aGFzaA" }\nlimits:\n  publishRate: 20\n',
    );
    const printedConfig = await printed(['broker', '--config', config, '--port', '1999'], {
      CW_BROKER_PUBLISH_RATE: '30',
      CW_BROKER_TLS_PORT: '8999',
    });
    expect(printedConfig).toMatchObject({
      port: 1999,
      tlsPort: 8999,
      accounts: [{ username: 'ingest', role: 'ingest', passwordHash: '***' }],
      limits: { publishRate: 30, publishBurst: 200 },
    });
  });

  it("broker sessions: ./data/broker unless --redis or --memory-sessions, and up's under its dataDir", async () => {
    expect(await printed(['broker', '--allow-anonymous'])).toMatchObject({
      dataDir: './data/broker',
      memorySessions: false,
    });
    const clustered = await printed(['broker', '--allow-anonymous', '--redis', 'redis://r:6379']);
    expect(clustered).not.toHaveProperty('dataDir');
    const memory = await printed(['broker', '--allow-anonymous'], { CW_BROKER_MEMORY_SESSIONS: 'true' });
    expect(memory).toMatchObject({ memorySessions: true });
    expect(memory).not.toHaveProperty('dataDir');
    expect(await printed(['up', '--demo', '--memory-sessions'])).toMatchObject({ memorySessions: true });
  });

  it('sim run and sim replay', async () => {
    const env = { CW_SIM_NAP_PASSWORD: 'nap-secret', CW_SIM_SPEED: '10' };
    const run = await printed(
      ['sim', 'run', '--speed', 'max', '--nap-username', 'carer', '--fault-duplicate', '0.1'],
      env,
    );
    expect(run).toMatchObject({
      speed: 'max',
      nap: { username: 'carer', password: '***' },
      faults: { duplicate: 0.1 },
    });
    expect(JSON.stringify(run)).not.toContain('nap-secret');
    const replay = await printed(['sim', 'replay', 'recording.jsonl', '--window', '5'], env);
    expect(replay).toMatchObject({ speed: 10, window: 5, nap: { password: '***' } });
  });

  it('ingest, frontend and up', async () => {
    const ingest = await printed(['ingest', '--batch-size', '50', '--client-id', 'ingest-0'], {
      CW_INFLUX_URL: 'http://127.0.0.1:8086',
      CW_INFLUX_TOKEN: 'influx-secret',
      CW_INFLUX_ORG: 'cw',
      CW_INFLUX_BUCKET: 'cw',
      CW_INGEST_BATCH_SIZE: '7',
    });
    expect(ingest).toMatchObject({
      batch: { size: 50 },
      mqtt: { clientId: 'ingest-0' },
      influx: { api: 'v2', token: '***' },
    });
    const frontend = await printed(['frontend', '--fleet', 'fleet.yaml', '--http-port', '0'], {
      CW_MQTT_PASSWORD: 'mqtt-secret',
      CW_FRONTEND_HTTP_HOST: '0.0.0.0',
    });
    expect(frontend).toMatchObject({
      fleetFile: 'fleet.yaml',
      http: { host: '0.0.0.0', port: 0 },
      mqtt: { password: '***' },
    });
    const up = await printed(['up', '--demo', '--mqtt-port', '1999'], { CW_DATA_DIR: join(dir, 'up') });
    expect(up).toMatchObject({ demo: true, mqttPort: 1999, dataDir: join(dir, 'up') });
  });

  it('rules, with per-centre thresholds shown as an object', async () => {
    const config = file(
      'rules.yaml',
      'fleetFile: fleet.yaml\nchannels: { history: { enabled: false } }\nrules: { centers: { c1: { prone: { holdS: 45 } } } }\nhttp:\n  tokens: [{ token: caregiver-token-0001, role: caregiver, center: c1, name: x }]\n',
    );
    const printedConfig = await printed(['rules', '--config', config, '--http-port', '0']);
    expect(printedConfig).toMatchObject({
      http: { port: 0, tokens: [{ token: '***', center: 'c1' }] },
      rules: { centers: { c1: { prone: { holdS: 45 } } } },
    });
  });
});

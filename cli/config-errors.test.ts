import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../protocol/config.ts';
import { buildProgram } from './main.ts';

const dir = mkdtempSync(join(tmpdir(), 'cw-config-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  /** What the operator typed after `cradlewatch`; a file named here is written first. */
  argv: string[];
  file?: string;
  env?: Record<string, string>;
  says: string[];
  /** Words that must not appear, e.g. the env var of a value that came from a flag. */
  not?: string[];
}

/**
 * Runs the real command line in this process: every case is refused by the config loader before the
 * service starts, so nothing listens and nothing is written but the case's file.
 */
async function refusal({ argv, file, env = {} }: Case): Promise<string> {
  const path = join(dir, 'config.yaml');
  if (file !== undefined) writeFileSync(path, file);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    await buildProgram().parseAsync(
      argv.map((a) => (a === '{file}' ? path : a)),
      { from: 'user' },
    );
  } catch (error) {
    if (error instanceof ConfigError) return error.message.replaceAll(path, '{file}');
    throw error;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  throw new Error(`cradlewatch ${argv.join(' ')} was accepted`);
}

const cases: Record<string, Case[]> = {
  broker: [
    {
      argv: ['broker', '--config', '{file}'],
      file: 'limits:\n  maxConnectionz: 5\n',
      says: [
        'limits.maxConnectionz (file {file}): unknown key; expected one of maxPacketBytes, maxConnections',
      ],
    },
    {
      argv: ['broker', '--config', '{file}'],
      file: 'accounts:\n  - { username: a, passwordHash: x, role: admin }\n',
      says: [
        'accounts.0.role (file {file}): expected "ingest", "rules", "caregiver", "supervisor" or "simulator" (got "admin")',
      ],
    },
    {
      argv: ['broker', '--port', 'http'],
      env: { CW_BROKER_PORT: '1884' },
      says: ['port (--port): expected a number (got "http")'],
      not: ['CW_BROKER_PORT'],
    },
    {
      argv: ['broker', '--memory-sessions', '--data-dir', 'sessions'],
      says: ['memorySessions (--memory-sessions): sessions go in memory, redis or dataDir: give one of them'],
    },
    {
      argv: ['broker'],
      env: { CW_BROKER_MAX_CONNECTIONS: 'lots' },
      says: ['limits.maxConnections (env CW_BROKER_MAX_CONNECTIONS): expected a number (got "lots")'],
    },
  ],
  ingest: [
    {
      argv: ['ingest', '--config', '{file}'],
      file: 'batchh:\n  size: 10\nspool:\n  maxBytess: 5\n',
      says: [
        'batchh (file {file}): unknown key; expected one of mqtt, influx,',
        'spool.maxBytess (file {file}): unknown key; expected one of dir, maxBytes, segmentBytes',
      ],
    },
    {
      argv: ['ingest', '--batch-size', 'x'],
      env: { CW_INGEST_BATCH_SIZE: '7' },
      says: ['batch.size (--batch-size): expected a number (got "x")'],
      not: ['CW_INGEST_BATCH_SIZE'],
    },
    {
      argv: ['ingest'],
      env: { CW_INFLUX_API: 'v3', CW_INFLUX_URL: 'http://127.0.0.1:1' },
      says: ['influx.api (env CW_INFLUX_API): expected "v2" or "v1" (got "v3")'],
    },
  ],
  rules: [
    {
      argv: ['rules', '--config', '{file}'],
      file: 'clock:\n  mdoe: device\nrules:\n  centers:\n    c1:\n      prone: { hold: 5 }\n',
      says: [
        'clock.mdoe (file {file}): unknown key; expected one of mode, speed',
        'rules.centers.c1.prone.hold (file {file}): unknown key; expected one of holdS, clearS, underMonths',
      ],
    },
    {
      argv: ['rules', '--clock', 'sundial'],
      says: [
        'fleetFile (not set; env CW_FLEET_FILE or --fleet): required',
        'clock.mode (--clock): expected "wall" or "device" (got "sundial")',
      ],
    },
    {
      argv: ['rules', '--fleet', 'fleet.yaml'],
      env: { CW_RULES_SPEED: 'fast' },
      says: ['clock.speed (env CW_RULES_SPEED): expected a number (got "fast")'],
    },
  ],
  frontend: [
    {
      argv: ['frontend', '--http-port', 'web'],
      env: { CW_FRONTEND_HTTP_PORT: '8081' },
      says: [
        'fleetFile (not set; env CW_FLEET_FILE or --fleet): required',
        'http.port (--http-port): expected a number (got "web")',
      ],
      not: ['CW_FRONTEND_HTTP_PORT'],
    },
  ],
  sim: [
    {
      argv: ['sim', 'run', '--dry-run', '--config', '{file}'],
      file: 'speedd: 3\nnap: { user: x }\nbehaviour: { wearableIntervalMss: 500 }\n',
      says: [
        'speedd (file {file}): unknown key; expected one of url, scenario,',
        'nap.user (file {file}): unknown key; expected one of username, password',
        'behaviour.wearableIntervalMss (file {file}): unknown key; expected one of wearableIntervalMs,',
      ],
    },
    {
      argv: ['sim', 'run', '--dry-run', '--speed', 'fast', '--status', 'loud'],
      env: { CW_SIM_SPEED: '10' },
      says: [
        'speed (--speed): expected "max" or a number (got "fast")',
        'status (--status): expected "auto", "tty", "log" or "off" (got "loud")',
      ],
      not: ['CW_SIM_SPEED'],
    },
    {
      argv: ['sim', 'replay', 'recording.jsonl'],
      env: { CW_SIM_SPEED: 'fast' },
      says: ['speed (env CW_SIM_SPEED): expected "max" or a number (got "fast")'],
    },
  ],
  up: [
    {
      argv: ['up', '--config', '{file}'],
      file: 'mqttPortt: 1884\ntokens:\n  - { token: 0123456789abcdef0, role: admin, name: x }\n',
      says: [
        'mqttPortt (file {file}): unknown key; expected one of host, mqttPort, httpPort',
        'tokens.0.role (file {file}): expected "caregiver" or "supervisor" (got "admin")',
      ],
    },
    {
      argv: ['up', '--mqtt-port', '99999'],
      env: { CW_MQTT_PORT: '1884' },
      says: ['mqttPort (--mqtt-port): Too big: expected number to be <=65535 (got "99999")'],
      not: ['CW_MQTT_PORT'],
    },
    {
      argv: ['up'],
      env: { CW_DEMO: 'maybe' },
      says: ['demo (env CW_DEMO): expected a boolean (got "maybe")'],
    },
  ],
};

describe('config errors name the field, where its value came from and what is allowed', () => {
  for (const [service, list] of Object.entries(cases)) {
    it.each(list.map((c) => [c.argv.join(' '), c] as const))(`${service}: cradlewatch %s`, async (_, c) => {
      const message = await refusal(c);
      for (const line of c.says) expect(message).toContain(line);
      for (const word of c.not ?? []) expect(message).not.toContain(word);
    });
  }
});

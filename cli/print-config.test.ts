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

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findInfluxd } from '../lib/influx/server.ts';
import { pingInflux } from '../lib/influx/query.ts';
import { probeWrite } from '../lib/influx/faults.ts';
import { finished } from './support/run-module.ts';

const ENTRY = join(import.meta.dirname, '..', 'bin', 'cradlewatch.mjs');
const SUBCOMMANDS = ['up', 'broker', 'ingest', 'rules', 'sim', 'dashboards', 'influx'];

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [ENTRY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CW_LOG_FORMAT: 'json' },
  });
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await finished(cli(args));
  return { code, stdout, stderr };
}

describe('cradlewatch CLI', () => {
  it('--help lists every subcommand and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: cradlewatch /);
    for (const name of SUBCOMMANDS) expect(stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it('an unknown command exits 2 with usage', async () => {
    const { code, stderr } = await run(['nope']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'nope'");
    expect(stderr).toContain('Usage: cradlewatch');
  });

  it('an unknown flag exits 2 with usage, at the top and on a subcommand', async () => {
    const top = await run(['--bogus']);
    expect(top.code).toBe(2);
    expect(top.stderr).toContain("unknown option '--bogus'");
    expect(top.stderr).toContain('Usage: cradlewatch');
    const sub = await run(['influx', 'start', '--bogus']);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain("unknown option '--bogus'");
    expect(sub.stderr).toContain('Usage: cradlewatch influx start');
  });

  it('no arguments or an incomplete command prints usage and exits 2', async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: cradlewatch');
    const incomplete = await run(['influx']);
    expect(incomplete.code).toBe(2);
    expect(incomplete.stderr).toContain('Usage: cradlewatch influx');
  });

  it('a bad option value is refused naming the field, exit 2', async () => {
    const { code, stderr } = await run(['influx', 'start', '--port', 'http']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid config:\n\s+port \(--port\): /);
  });
});

/** Children of a process, from /proc (Linux), to prove influxd is not left behind. */
function childrenOf(pid: number): number[] {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return [];
  return readFileSync(`${tasks}/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

const influxd = findInfluxd();

describe.skipIf(!influxd)(
  `cradlewatch influx start${influxd ? '' : ' [needs influxd: skipped, influxd not on PATH]'}`,
  () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cw-cli-influx-'));
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it('runs a private influxd, prints its URL, and stops it on SIGTERM with exit 0', async () => {
      const child = cli(['influx', 'start', '--data-dir', dataDir]);
      let stdout = '';
      let stderr = '';
      child.stderr?.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL after 30 s; stderr:\n${stderr}`)), 30_000);
        child.stdout?.on('data', (d) => {
          stdout += d;
          const found = /InfluxDB (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
          if (found) {
            clearTimeout(timer);
            resolve(found[1]!);
          }
        });
        child.on('exit', (c) => reject(new Error(`exited ${c} before printing a URL:\n${stderr}`)));
      });
      expect(stdout).toContain(`CW_INFLUX_URL=${url} CW_INFLUX_DATABASE=cradlewatch`);
      expect(stdout).toContain('database cradlewatch created');
      expect(await probeWrite({ api: 'v1', url, database: 'cradlewatch' })).toBeUndefined();
      expect(await pingInflux({ url })).toBe(true);
      const servers = childrenOf(child.pid!);
      expect(servers).toHaveLength(1);
      expect(readFileSync(`/proc/${servers[0]}/cmdline`, 'utf8')).toContain('influxd');

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(`/proc/${servers[0]}`)).toBe(false);
      expect(await pingInflux({ url }, 500)).toBe(false);
      // The data dir was the caller's: it stays, with the server's files in it.
      expect(existsSync(join(dataDir, 'meta'))).toBe(true);
    });
  },
);

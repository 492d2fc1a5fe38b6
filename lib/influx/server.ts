import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../net.ts';
import { pingInflux } from './query.ts';

export interface InfluxdOptions {
  /** Where the server keeps its data; a fresh temp dir (removed on stop) when absent. */
  dataDir?: string;
  host?: string;
  /** HTTP port; a free one when absent or 0. */
  port?: number;
  binary?: string;
}

export interface RunningInfluxd {
  url: string;
  dataDir: string;
  pid: number;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir (outage tests). */
  restart(): Promise<void>;
}

export function findInfluxd(binary = process.env.CW_INFLUXD ?? 'influxd'): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : null;
}

/** A minimal 1.x config: loopback only, no usage reporting, no self-monitoring writes, quiet logs. */
function influxdConfig(dataDir: string, host: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "${host}:${rpcPort}"
[meta]
  dir = "${join(dataDir, 'meta')}"
[data]
  dir = "${join(dataDir, 'data')}"
  wal-dir = "${join(dataDir, 'wal')}"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "${host}:${httpPort}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[logging]
  level = "warn"
[subscriber]
  enabled = false
`;
}

/**
 * Starts a private influxd (Debian's 1.6.7 here) on loopback: its own data dir and free ports, so tests and
 * `cradlewatch up` never touch a system-wide server.
 */
export async function startInfluxd(options: InfluxdOptions = {}): Promise<RunningInfluxd> {
  const binary = findInfluxd(options.binary);
  if (!binary) {
    throw new Error(
      'influxd is not on PATH: install it (Debian: apt-get install influxdb) or set CW_INFLUX_URL',
    );
  }
  const host = options.host ?? '127.0.0.1';
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'cw-influxd-'));
  mkdirSync(dataDir, { recursive: true });
  const httpPort = options.port || (await freePort(host));
  const rpcPort = await freePort(host);
  const configFile = join(dataDir, 'influxd.conf');
  writeFileSync(configFile, influxdConfig(dataDir, host, httpPort, rpcPort));
  const url = `http://${host}:${httpPort}`;

  let child!: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn(binary, ['-config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => (output = (output + d).slice(-4000)));
    child.stderr?.on('data', (d) => (output = (output + d).slice(-4000)));
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor(
      async () => {
        if (exited) throw new Error(`influxd exited at start:\n${output}`);
        return pingInflux({ url }, 500);
      },
      { timeoutMs: 30_000, what: `influxd at ${url}` },
    );
  };
  const stopProcess = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };
  await launch();
  const running: RunningInfluxd = {
    url,
    dataDir,
    get pid() {
      return child.pid ?? -1;
    },
    get process() {
      return child;
    },
    async stop() {
      await stopProcess();
      if (temporary) rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await stopProcess();
      await launch();
    },
  };
  return running;
}

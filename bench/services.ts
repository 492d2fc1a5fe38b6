import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../lib/credentials.ts';
import { freePort, waitFor } from '../lib/net.ts';
import { checkPasses, fetchHealth } from '../lib/ops/index.ts';
import { onExit } from './on-exit.ts';
import { type InfluxV1, SUPERVISOR_TOKEN, type Topology } from './options.ts';

const root = join(import.meta.dirname, '..');

export interface Services {
  /** The cradlewatch processes by the name the table shows. */
  pids: () => Record<string, number | undefined>;
  mqttUrl: string;
  pageUrl: string;
  /** Where ingest's /metrics answers: its own port, or the page's under `cradlewatch up`. */
  ingestUrl: string;
  /** Where the broker's and the rules' /metrics answer (one URL under `cradlewatch up`). */
  brokerUrl: string;
  rulesUrl: string;
  /** What each service that exited during the run said last. */
  crashed(): string[];
  stop(): Promise<void>;
}

/** `node bin/cradlewatch.mjs <args>` with its output kept for the error that explains a failed start. */
function spawnCradlewatch(args: string[], nodeArgs: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...nodeArgs, 'bin/cradlewatch.mjs', ...args], {
    cwd: root,
    env: { ...process.env, CW_LOG_LEVEL: 'error', CW_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once(
    'exit',
    onExit(() => child.kill('SIGKILL')),
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // A process killed by a signal (V8 aborts on a full heap) has a signalCode and no exitCode.
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ready = (what: string, test: (output: string) => boolean | Promise<boolean>) =>
    waitFor(
      () => {
        if (exited())
          throw new Error(`${args[0]} exited (${child.exitCode ?? child.signalCode}):\n${output}`);
        return test(output);
      },
      { timeoutMs: 60_000, what },
    );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited()) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  /** Why it is gone, if it exited on its own: the end of what it wrote. */
  const crashed = () =>
    exited()
      ? `${args[0]} exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`
      : undefined;
  return { child, ready, stop, output: () => output, crashed };
}

/** Broker, ingest, rules and the HTTP server as one child process, the way `cradlewatch up` runs them. */
async function startOneProcess(
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  const configFile = join(dir, 'cradlewatch.yaml');
  writeFileSync(configFile, `tokens:\n  - { token: ${SUPERVISOR_TOKEN}, role: supervisor, name: bench }\n`);
  const up = spawnCradlewatch(
    ['up', '--fleet', fleetFile, '--config', configFile, '--data-dir', join(dir, 'data')],
    nodeArgs,
    {
      CW_INFLUX_API: 'v1',
      CW_INFLUX_URL: influx.url,
      CW_INFLUX_DATABASE: influx.database,
      CW_MQTT_PORT: '0',
      CW_HTTP_PORT: '0',
    },
  );
  await up.ready('the services banner', (output) => /Metrics\s+\S+\/metrics/.test(output));
  const output = up.output();
  return {
    pids: () => ({ 'cradlewatch up (broker+ingest+rules)': up.child.pid }),
    mqttUrl: /MQTT broker\s+(\S+)/.exec(output)![1]!,
    pageUrl: /Caregiver page\s+(\S+)/.exec(output)![1]!,
    ingestUrl: /Metrics\s+(\S+)\/metrics/.exec(output)![1]!,
    brokerUrl: /Metrics\s+(\S+)\/metrics/.exec(output)![1]!,
    rulesUrl: /Metrics\s+(\S+)\/metrics/.exec(output)![1]!,
    crashed: () => [up.crashed()].filter((c) => c !== undefined),
    stop: up.stop,
  };
}

/**
 * Broker, ingest and rules as three processes with their own config files, the way a site runs them:
 * each gets its own event loop (and core), and the table shows each one's CPU and memory.
 */
async function startSplit(
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  const account = (username: string, role: 'ingest' | 'rules') => {
    const password = randomBytes(18).toString('base64url');
    return {
      account: { username, role, passwordHash: hashPassword(password) },
      login: { username, password },
    };
  };
  const ingestAccount = account('cradlewatch-ingest', 'ingest');
  const rulesAccount = account('cradlewatch-rules', 'rules');
  const started: ReturnType<typeof spawnCradlewatch>[] = [];
  /** `cradlewatch <service> --config <dir>/<service>.json`, stopped with the others on the way out. */
  const service = (name: 'broker' | 'ingest' | 'rules', config: unknown) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const child = spawnCradlewatch([name, '--config', file], nodeArgs);
    started.push(child);
    return child;
  };
  const stop = async () => {
    for (const s of started.reverse()) await s.stop();
  };
  try {
    const brokerPort = await freePort();
    const broker = service('broker', {
      host: '127.0.0.1',
      port: 0,
      httpPort: brokerPort,
      fleetFile,
      accounts: [ingestAccount.account, rulesAccount.account],
    });
    await broker.ready('the broker', (output) => output.includes('"ready":true'));
    const readyLine = broker
      .output()
      .split('\n')
      .find((l) => l.includes('"ready":true'))!;
    const mqttUrl = (JSON.parse(readyLine) as { mqtt: string }).mqtt;
    const ingestPort = await freePort();
    const ingest = service('ingest', {
      mqtt: { url: mqttUrl, ...ingestAccount.login },
      influx,
      fleetFile,
      spool: { dir: join(dir, 'data', 'spool') },
      deadletter: { dir: join(dir, 'data', 'deadletter') },
      http: { host: '127.0.0.1', port: ingestPort },
    });
    const ingestUrl = `http://127.0.0.1:${ingestPort}`;
    await ingest.ready('ingest subscribed', async () => checkPasses(await fetchHealth(ingestUrl), 'mqtt'));
    const rulesPort = await freePort();
    const rules = service('rules', {
      mqtt: { url: mqttUrl, ...rulesAccount.login },
      fleetFile,
      journalDir: join(dir, 'data', 'rules'),
      influx,
      http: {
        host: '127.0.0.1',
        port: rulesPort,
        tokens: [{ token: SUPERVISOR_TOKEN, role: 'supervisor', name: 'bench' }],
      },
    });
    const pageUrl = `http://127.0.0.1:${rulesPort}`;
    await rules.ready('rules serving', async () => (await fetchHealth(pageUrl))?.status === 'ok');
    return {
      pids: () => ({
        'cradlewatch broker': broker.child.pid,
        'cradlewatch ingest': ingest.child.pid,
        'cradlewatch rules': rules.child.pid,
      }),
      mqttUrl,
      pageUrl,
      ingestUrl,
      brokerUrl: `http://127.0.0.1:${brokerPort}`,
      rulesUrl: pageUrl,
      crashed: () => [broker, ingest, rules].map((s) => s.crashed()).filter((c) => c !== undefined),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The services in `topology`, started on `fleetFile` and writing to `influx`. */
export function startServices(
  topology: Topology,
  dir: string,
  fleetFile: string,
  influx: InfluxV1,
  nodeArgs: string[],
): Promise<Services> {
  return (topology === 'split' ? startSplit : startOneProcess)(dir, fleetFile, influx, nodeArgs);
}

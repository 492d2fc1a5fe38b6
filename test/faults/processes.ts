import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_BROKER_DATA_DIR } from '../../broker/config.ts';
import { stopLocalRedis } from '../../broker/local-redis.ts';
import { waitFor } from '../../lib/net.ts';
import { reachable } from '../support/mosquitto.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** One JSON log line of a service. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * A `cradlewatch` command as its own process, as an operator runs it, so a fault can really kill it (or a
 * bug really end it) and its JSON log lines and exit code are what the test reads.
 */
export class Service {
  readonly lines: LogLine[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stderr = '';

  /** `cwd`: where its relative defaults (the broker's ./data/broker) land. */
  constructor(args: string[], cwd = ROOT) {
    this.#child = spawn(process.execPath, [join(ROOT, 'bin/cradlewatch.mjs'), ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CW_LOG_LEVEL: 'info', CW_LOG_FORMAT: 'json' },
    });
    let partial = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const whole = text.split('\n');
      partial = whole.pop()!;
      for (const line of whole) {
        if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
      }
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  /** Null while it runs. */
  get exitCode(): number | null {
    return this.#child.exitCode;
  }

  get stderr(): string {
    return this.#stderr;
  }

  async kill9(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    await this.#exited;
  }
}

/**
 * `cradlewatch broker` on `port`, anonymous, with the test registry, run in `home` with its default
 * persistence (sessions in `home`/data/broker, where a private redis-server keeps them; a kill -9 leaves
 * that running, `stopBrokerStore` ends it) unless `args` say otherwise (`--redis`, `--memory-sessions`).
 */
export async function brokerProcess(
  port: number,
  fleetFile: string,
  { home, args = [] }: { home: string; args?: string[] },
): Promise<Service> {
  const broker = new Service(
    ['broker', ...['--port', String(port), '--fleet', fleetFile, '--allow-anonymous'], ...args],
    home,
  );
  await waitFor(
    async () => {
      if (broker.exitCode !== null) throw new Error(`broker exited: ${broker.stderr}`);
      return reachable(port);
    },
    { what: `broker on ${port}`, timeoutMs: 30_000 },
  );
  return broker;
}

/** The store a broker run in `home` keeps by default. */
export const brokerStore = (home: string) => join(home, DEFAULT_BROKER_DATA_DIR);

/** Ends the store of the brokers run in `home`, left running by a kill -9, before `home` is removed. */
export const stopBrokerStore = (home: string) => stopLocalRedis(brokerStore(home));

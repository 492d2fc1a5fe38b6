import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from '../../lib/net.ts';
import { reachable } from '../support/mosquitto.ts';

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

  constructor(args: string[]) {
    this.#child = spawn(process.execPath, ['bin/cradlewatch.mjs', ...args], {
      cwd: new URL('../..', import.meta.url).pathname,
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
 * `cradlewatch broker` on `port`, anonymous, with the test registry: its default persistence, or with
 * `redis` a node of a cluster sharing sessions there.
 */
export async function brokerProcess(port: number, fleetFile: string, redis?: string): Promise<Service> {
  const broker = new Service([
    'broker',
    ...['--port', String(port), '--fleet', fleetFile, '--allow-anonymous'],
    ...(redis ? ['--redis', redis] : []),
  ]);
  await waitFor(
    async () => {
      if (broker.exitCode !== null) throw new Error(`broker exited: ${broker.stderr}`);
      return reachable(port);
    },
    { what: `broker on ${port}`, timeoutMs: 30_000 },
  );
  return broker;
}

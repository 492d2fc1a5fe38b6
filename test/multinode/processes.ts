import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from '../../lib/net.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * One `cradlewatch <service>` process on fixed loopback ports, started again with the same arguments
 * after a kill -9: a node that comes back with its disk (journal, spool) as a restarted host would.
 */
export class ServiceProcess {
  child: ChildProcess | undefined;
  #out = '';

  constructor(
    readonly name: string,
    private readonly args: string[],
    /** Answers 200 on GET when the service is up. */
    readonly healthUrl: string,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  /**
   * Starts the process and waits until it is healthy. A process that exits first is started again, up to
   * `attempts` times, as a supervisor (compose `restart: unless-stopped`, systemd) would: `restarts`
   * counts those, and the test reports them with the recovery time they cost.
   */
  async start(attempts = 8): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce();
      } catch (error) {
        if (attempt >= attempts) throw error;
        this.restarts++;
      }
    }
  }

  restarts = 0;

  async #startOnce(): Promise<void> {
    const child = spawn(process.execPath, [`${ROOT}bin/cradlewatch.mjs`, ...this.args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CW_LOG_LEVEL: 'warn', CW_LOG_FORMAT: 'json', ...this.env },
    });
    child.stdout?.on('data', (d) => (this.#out += d));
    child.stderr?.on('data', (d) => (this.#out += d));
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${this.name} exited ${child.exitCode}: ${this.#out}`);
        return (await fetch(this.healthUrl).catch(() => null))?.ok === true;
      },
      { what: `${this.name} healthy`, timeoutMs: 60_000, intervalMs: 100 },
    );
  }

  /** kill -9; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  output(): string {
    return this.#out;
  }
}

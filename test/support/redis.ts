import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../lib/net.ts';

export interface RedisServer {
  url: string;
  /** Its working directory (append-only file), removed by `stop`. */
  dir: string;
  stop(): Promise<void>;
}

/**
 * A private redis-server (Debian's) on a free port, append-only so a restart of the brokers keeps state;
 * `port` brings one back where a stopped one was.
 */
export async function startRedis(port?: number): Promise<RedisServer> {
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cw-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = tcpConnect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    { what: 'redis-server', timeoutMs: 10_000, intervalMs: 50 },
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

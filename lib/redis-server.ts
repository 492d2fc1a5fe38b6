import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { freePort, waitFor } from './net.ts';

export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/**
 * A redis-server (Debian's) on loopback, append-only in `dir`, for brokers that share it as one cluster
 * (tests, the bench's `--brokers`); `port` brings one back where a stopped one was, else a free port.
 */
export async function startRedisServer(dir: string, port?: number): Promise<RedisServer> {
  port ??= await freePort();
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error('redis-server is not on the PATH (Debian package redis-server)')
          : error,
      ),
    );
    child.once('exit', (code) => reject(new Error(`redis-server on port ${port} exited ${code}`)));
  });
  failed.catch(() => {});
  await Promise.race([
    waitFor(() => accepts(port), { what: 'redis-server', timeoutMs: 10_000, intervalMs: 50 }),
    failed,
  ]);
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { ConfigError } from '../protocol/config.ts';

export interface LocalRedis {
  /** The unix socket the broker's Redis clients use. */
  socket: string;
  stop(): Promise<void>;
}

async function answers(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  const probe = new Redis({
    path: socket,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** The unix socket of the store in `dir`. */
export const localRedisSocket = (dir: string) => join(resolve(dir), 'redis.sock');

/**
 * Shuts down the store in `dir` if one answers there: the broker's graceful stop, and whoever cleans up
 * after a broker killed with -9 (a test, the bench), which leaves its store running.
 */
export async function stopLocalRedis(dir: string): Promise<void> {
  const client = new Redis({
    path: localRedisSocket(dir),
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  // SHUTDOWN writes the append-only file out and exits; its connection then drops, which is the answer.
  await client.shutdown().catch(() => {});
  client.disconnect();
}

/**
 * A private redis-server holding the broker's sessions and retained messages in `dir` (append-only file,
 * fsync every second), reached on a unix socket there. A broker killed with -9 leaves it running, so the
 * next broker on the same directory adopts it instead of starting a second server on the same files.
 */
export async function startLocalRedis(dir: string, log: Logger): Promise<LocalRedis> {
  const home = resolve(dir);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const socket = localRedisSocket(home);
  const stop = () => stopLocalRedis(home);
  if (await answers(socket)) {
    log.warn({ dir: home }, 'adopting the broker store left running by a previous broker');
    return { socket, stop };
  }
  const child = spawn(
    'redis-server',
    [
      ...['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', home],
      ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
    ],
    // Its own process group: a terminal's Ctrl-C reaches the broker, which shuts it down after the last write.
    { stdio: 'ignore', detached: true },
  );
  const failed = new Promise<Error>((resolve_) => {
    child.once('error', (error) => resolve_(error));
    child.once('exit', (code) => resolve_(new Error(`redis-server exited ${code}`)));
  });
  child.unref();
  const ready = waitFor(() => answers(socket), {
    timeoutMs: 15_000,
    intervalMs: 50,
    what: 'the broker store',
  });
  const outcome = await Promise.race([ready.then(() => null), failed]);
  if (outcome) {
    const missing = (outcome as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(
      missing
        ? 'dataDir: durable MQTT sessions need redis-server on the PATH (Debian package redis-server); install it, or keep sessions in memory, lost at every broker restart (memorySessions: --memory-sessions, CW_BROKER_MEMORY_SESSIONS=true, under `up` CW_MEMORY_SESSIONS=true)'
        : `dataDir: could not start redis-server in ${home}: ${outcome.message}`,
    );
  }
  log.info({ dir: home }, 'broker store started');
  return { socket, stop };
}

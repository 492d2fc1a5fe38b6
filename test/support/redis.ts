import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer as Server, startRedisServer } from '../../lib/redis-server.ts';

export interface RedisServer extends Server {
  /** Its working directory (append-only file), removed by `stop`. */
  dir: string;
}

/** A private redis-server in a temp dir of its own, removed when it stops (lib/redis-server.ts). */
export async function startRedis(port?: number): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cw-redis-'));
  const server = await startRedisServer(dir, port);
  return {
    ...server,
    dir,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

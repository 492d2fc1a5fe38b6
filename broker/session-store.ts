import type { Logger } from '../lib/logger.ts';
import { type HealthChecks, unless } from '../lib/ops/index.ts';
import type { BrokerConfig } from './config.ts';
import { MemorySessionOwners, type SessionOwners } from './identity.ts';
import { startLocalRedis } from './local-redis.ts';
import { IndexedMemoryPersistence } from './outgoing-persistence.ts';
import {
  checkRedis,
  type RedisBackends,
  redisBackends,
  redisOptions,
  redisPersistence,
} from './redis-persistence.ts';

/** Where sessions, retained messages, wills and session owners live, and the emitter brokers share. */
export interface SessionStore {
  /** Aedes' `persistence`, and its `mq` when brokers share Redis. */
  backends: { persistence: unknown; mq?: RedisBackends['mq'] };
  owners: SessionOwners;
  /** A `redis` check when the store is a shared Redis. */
  checks: HealthChecks;
  close(): Promise<void>;
}

/**
 * Durable sessions: a shared Redis (cluster), or a private redis-server in dataDir (one broker); in memory
 * otherwise.
 */
export async function openSessionStore(
  config: Pick<BrokerConfig, 'dataDir' | 'redis' | 'memorySessions'>,
  log: Logger,
): Promise<SessionStore> {
  const local = config.dataDir ? await startLocalRedis(config.dataDir, log) : undefined;
  const url = config.redis;
  const options = url ? redisOptions(url) : local ? { path: local.socket } : undefined;
  if (url && options) await checkRedis(url, options);
  if (!options) {
    // An operator who opted out hears once what it costs; a program that left dataDir out chose it.
    if (config.memorySessions)
      log.warn('MQTT sessions in memory (memorySessions): a broker restart loses every queued QoS 1 message');
    const owners = new MemorySessionOwners();
    return {
      backends: { persistence: new IndexedMemoryPersistence() },
      owners,
      checks: {},
      close: () => owners.close(),
    };
  }
  if (local) {
    // One broker: its messages go from publisher to subscriber inside the process, as in memory; only what
    // must outlive it (sessions, their queues, retained messages, wills) goes to its redis-server. Routing
    // every message through Redis pub/sub too, as a cluster must, bought nothing here.
    const owners = new MemorySessionOwners();
    return {
      backends: { persistence: redisPersistence(options, log) },
      owners,
      checks: {},
      close: async () => {
        await owners.close();
        await local.stop();
      },
    };
  }
  const { owners, ...backends } = redisBackends(options, log);
  // A Redis outage while running is logged and retried by the clients, never a crash.
  let redisError: string | undefined;
  backends.mq.state.on('error', (error: Error) => {
    redisError = error.message;
    log.error({ err: error.message }, 'Redis pub/sub unavailable; retrying');
  });
  for (const connected of ['pubConnect', 'subConnect'])
    backends.mq.state.on(connected, () => (redisError = undefined));
  return {
    backends,
    owners,
    checks: { redis: () => unless(redisError === undefined, `Redis unreachable: ${redisError}`) },
    close: async () => {
      await new Promise<void>((resolve) => backends.mq.close(resolve));
      await owners.close();
    },
  };
}

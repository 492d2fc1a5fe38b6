import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import { ConfigError } from '../protocol/config.ts';
import { RedisSessionOwners } from './identity.ts';
import { RedisEmitter } from './redis-emitter.ts';
import { allOutgoing, PackageRedis, type PersistenceConnection } from './redis-outgoing.ts';
import { SubscriptionWrites } from './subscription-writes.ts';

const require = createRequire(import.meta.url);

/** The methods of aedes-persistence-redis' async persistence the broker adapts. */
interface StreamSources {
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
  outgoingStream(client: unknown): AsyncIterable<unknown>;
  streamWill(brokers: unknown): AsyncIterable<unknown>;
  addSubscriptions(client: object, subs: { topic: string }[]): Promise<unknown>;
  removeSubscriptions(client: object, topics: string[]): Promise<unknown>;
}

export interface RedisBackends {
  persistence: StreamSources;
  mq: RedisEmitter;
  owners: RedisSessionOwners;
}

export function redisOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db: Number(parsed.pathname.slice(1) || 0),
  };
}

/** Sessions, retained messages and wills in Redis (aedes-persistence-redis), adapted to Aedes 1.2. */
export function redisPersistence(options: RedisOptions): StreamSources {
  // The package's main export wraps the async persistence in a callback shim that Aedes 1.x refuses.
  const RedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (
    o: object,
  ) => StreamSources;
  // Its streams are async generators, but Aedes 1.2 pipes retained messages with `.pipe` (a SUBSCRIBE
  // crashed the broker): these overrides hand Aedes Node streams, as its in-memory persistence does.
  class StreamingRedisPersistence extends RedisPersistence {
    constructor(private readonly db: PersistenceConnection) {
      super({ conn: db });
    }
    override createRetainedStreamCombi(patterns: string[]) {
      return Readable.from(super.createRetainedStreamCombi(patterns));
    }
    override outgoingStream(client: { id: string; closed?: boolean }) {
      return Readable.from(allOutgoing(this.db, client));
    }
    override streamWill(brokers: unknown) {
      return Readable.from(super.streamWill(brokers));
    }
    readonly #writes = new SubscriptionWrites();
    override addSubscriptions(client: object, subs: { topic: string }[]) {
      const write = () => super.addSubscriptions(client, subs);
      return this.#writes.run(client, `add:${subs[0]?.topic}`, subs, write);
    }
    override removeSubscriptions(client: object, topics: string[]) {
      const write = () => super.removeSubscriptions(client, topics);
      return this.#writes.run(client, `remove:${topics[0]}`, topics, write);
    }
  }
  return new StreamingRedisPersistence(new PackageRedis(options));
}

/** What brokers sharing one Redis need: the persistence, the emitter between them and the session owners. */
export function redisBackends(options: RedisOptions, log: Logger): RedisBackends {
  return {
    persistence: redisPersistence(options),
    mq: new RedisEmitter(options, log),
    owners: new RedisSessionOwners(new Redis(options)),
  };
}

/**
 * Both Redis backends retry for ever and the emitter throws its connection errors as an unhandled 'error':
 * an unreachable Redis at start would crash with a stack trace, or wait for ever. One probe gives a clear
 * refusal instead.
 */
export async function checkRedis(url: string, options: RedisOptions): Promise<void> {
  const probe = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const where = new URL(url);
    where.password = '';
    throw new ConfigError(`cannot reach Redis at ${where.href}: ${(error as Error).message}`);
  } finally {
    probe.disconnect();
  }
}

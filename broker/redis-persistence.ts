import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import { ConfigError } from '../protocol/config.ts';
import { RedisSessionOwners } from './identity.ts';
import { RedisEmitter } from './redis-emitter.ts';
import { SubscriptionWrites } from './subscription-writes.ts';

const require = createRequire(import.meta.url);

/** aedes-persistence-redis' default page: it reads the first 1,001 entries of a session's queue. */
const REDIS_SESSION_PAGE = 1_000;

/**
 * A returning persistent session's whole queue. The package reads one page from the head of the queue per
 * reconnect, so a session that fell more than ~1,000 messages behind got the rest only at later reconnects
 * (6,024 readings stuck in the fault sweep). Entries leave the head as the client acknowledges them, so the
 * head is read again until a page comes back short; a page of only already-sent entries waits for
 * acknowledgements (this bounds what is in flight to one page). Entries queued after the session returned
 * are also delivered live, so a few may be sent twice: at least once, as QoS 1 promises.
 */
async function* allOutgoing(
  client: { closed?: boolean },
  page: (client: unknown) => AsyncIterable<unknown>,
): AsyncGenerator<unknown> {
  const sent = new Set<string>();
  for (;;) {
    let seen = 0;
    let fresh = 0;
    for await (const packet of page(client)) {
      seen += 1;
      const { brokerId, brokerCounter } = packet as { brokerId: string; brokerCounter: number };
      const key = `${brokerId}:${brokerCounter}`;
      if (sent.has(key)) continue;
      sent.add(key);
      fresh += 1;
      yield packet;
    }
    if (seen <= REDIS_SESSION_PAGE || client.closed) return;
    if (fresh === 0) await new Promise((r) => setTimeout(r, 20));
  }
}

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

/** Sessions, retained messages and wills (aedes-persistence-redis), the emitter and session owners in Redis. */
export function redisBackends(options: RedisOptions, log: Logger): RedisBackends {
  // The package's main export wraps the async persistence in a callback shim that Aedes 1.x refuses.
  const RedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (
    o: object,
  ) => StreamSources;
  // Its streams are async generators, but Aedes 1.2 pipes retained messages with `.pipe` (a SUBSCRIBE
  // crashed the broker): these overrides hand Aedes Node streams, as its in-memory persistence does.
  class StreamingRedisPersistence extends RedisPersistence {
    override createRetainedStreamCombi(patterns: string[]) {
      return Readable.from(super.createRetainedStreamCombi(patterns));
    }
    override outgoingStream(client: { closed?: boolean }) {
      return Readable.from(allOutgoing(client, (c) => super.outgoingStream(c)));
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
  return {
    persistence: new StreamingRedisPersistence(options),
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

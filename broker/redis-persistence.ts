import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import { ConfigError } from '../protocol/config.ts';
import { RedisSessionOwners } from './identity.ts';
import { RedisEmitter } from './redis-emitter.ts';
import { allOutgoing, enqueue, PackageRedis, type PersistenceConnection } from './redis-outgoing.ts';
import { SubscriptionWrites } from './subscription-writes.ts';

const require = createRequire(import.meta.url);

/** The methods of aedes-persistence-redis' async persistence the broker adapts. */
interface StreamSources {
  storeRetained(packet: object): Promise<unknown>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
  outgoingStream(client: unknown): AsyncIterable<unknown>;
  streamWill(brokers: unknown): AsyncIterable<unknown>;
  outgoingUpdate(client: object, packet: object): Promise<unknown>;
  outgoingEnqueueCombi(subs: { clientId: string }[] | undefined, packet: QueuedPacket): Promise<void>;
  addSubscriptions(client: object, subs: { topic: string }[]): Promise<unknown>;
  removeSubscriptions(client: object, topics: string[]): Promise<unknown>;
}

type QueuedPacket = { brokerId: string; brokerCounter: number };

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
export function redisPersistence(options: RedisOptions, log: Logger): StreamSources {
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
    override outgoingEnqueueCombi(subs: { clientId: string }[] | undefined, packet: QueuedPacket) {
      return enqueue(this.db, subs ?? [], packet);
    }
    /**
     * Aedes writes a delivery only once this resolves: one Redis round trip per packet, in series while a
     * returning session's queue is replayed (5,000 queued took 4-14 s against ~1 s in memory, in
     * bench/redis-persistence.ts). For a QoS 1 publish the package's update is a SET of the shared packet
     * with this delivery's identifier, which nothing reads back (a replay gives a fresh one, ownIdentifier in
     * redis-outgoing.ts); the identifier's mapping that the PUBACK needs is set before the update's first
     * await. So the write goes out without waiting, and the SET still precedes the PUBACK's commands on the
     * connection. Its failure is logged: the entry stays queued until a PUBACK clears it.
     */
    override outgoingUpdate(client: object, packet: { cmd?: string; qos?: number }) {
      const update = super.outgoingUpdate(client, packet);
      if (packet.cmd !== 'publish' || packet.qos !== 1) return update;
      update.catch((error: Error) => log.warn({ err: error.message }, 'Redis outgoing update failed'));
      return Promise.resolve();
    }
    /**
     * Aedes emits a message only once its retained copy is stored, one round trip that a message without
     * `retain` does not wait for; Aedes then drops, as a duplicate, a message that reaches a client after one
     * published later (its `dedupe` compares publish counters). A subscriber to statuses (retained) and
     * readings, as the rules' telemetry session is, got 0-1 of 500 statuses published between readings
     * (500 in memory; retained-order.test.ts), their publisher acknowledged. The write is issued in publish order on the pipelined
     * connection and not waited for, so every message with a persistent subscriber is emitted after the
     * same one round trip (its enqueue). A failure is logged; the retained copy is a last value.
     */
    override storeRetained(packet: object) {
      super
        .storeRetained(packet)
        .catch((error: Error) => log.warn({ err: error.message }, 'Redis retained write failed'));
      return Promise.resolve();
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
  // The package awaits each of a message's commands in turn (MSET and an RPUSH per session on publish, SET
  // per delivery, GET, LREM, DECR and DEL per PUBACK), and ioredis wrote each as a socket write of its own:
  // 13 writes a message with two persistent subscribers, the broker's largest cost in
  // bench/redis-persistence.ts. Auto-pipelining sends the commands issued in one tick, across messages,
  // in one write, in the order they were issued (mqemitter-redis turns it on for its own connections).
  return new StreamingRedisPersistence(new PackageRedis({ ...options, enableAutoPipelining: true }));
}

/** What brokers sharing one Redis need: the persistence, the emitter between them and the session owners. */
export function redisBackends(options: RedisOptions, log: Logger): RedisBackends {
  return {
    persistence: redisPersistence(options, log),
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

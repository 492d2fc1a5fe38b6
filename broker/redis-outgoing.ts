import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';

/** aedes-persistence-redis' modules as it resolves them: its own ioredis (5) and msgpack. */
const packageRequire = createRequire(createRequire(import.meta.url).resolve('aedes-persistence-redis'));
const msgpack = packageRequire('msgpack-lite') as { decode(buffer: Buffer): unknown };

/** The package's connection, which the broker also reads a session's queue on. */
export interface PersistenceConnection {
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  mgetBuffer(...keys: string[]): Promise<(Buffer | null)[]>;
  lrem(key: string, count: number, value: string): Promise<number>;
}

export const PackageRedis = packageRequire('ioredis') as new (options: RedisOptions) => PersistenceConnection;

/** aedes-persistence-redis' default page: it reads the first 1,001 entries of a session's queue. */
const REDIS_SESSION_PAGE = 1_000;

/**
 * One page from the head of a client's queue (the package's keys and encoding), in two round trips: the
 * package fetched each packet with a round trip of its own. `listed` counts the list's entries, packets
 * acknowledged meanwhile included: they are gone by the fetch, and a page short of them is not the end.
 */
async function page(db: PersistenceConnection, clientId: string) {
  const list = `outgoing:${encodeURIComponent(clientId)}`;
  const keys = await db.lrange(list, 0, REDIS_SESSION_PAGE);
  const values = keys.length > 0 ? await db.mgetBuffer(...keys) : [];
  const packets: unknown[] = [];
  for (const [i, value] of values.entries()) {
    if (value) packets.push(msgpack.decode(value));
    // A key whose packet is gone leaves the list, as the package's own read does.
    else await db.lrem(list, 0, keys[i]!);
  }
  return { listed: keys.length, packets };
}

/**
 * A returning persistent session's whole queue. The package reads one page from the head of the queue per
 * reconnect, so a session that fell more than ~1,000 messages behind got the rest only at later reconnects
 * (6,024 readings stuck in the fault sweep). Entries leave the head as the client acknowledges them, so the
 * head is read again until the list holds no more than a page; a page of only already-sent entries waits
 * for acknowledgements (this bounds what is in flight to one page). Entries queued after the session
 * returned are also delivered live, so a few may be sent twice: at least once, as QoS 1 promises.
 */
export async function* allOutgoing(
  db: PersistenceConnection,
  client: { id: string; closed?: boolean },
): AsyncGenerator<unknown> {
  const sent = new Set<string>();
  for (;;) {
    const { listed, packets } = await page(db, client.id);
    let fresh = 0;
    for (const packet of packets) {
      const { brokerId, brokerCounter } = packet as { brokerId: string; brokerCounter: number };
      const key = `${brokerId}:${brokerCounter}`;
      if (sent.has(key)) continue;
      sent.add(key);
      fresh += 1;
      yield packet;
    }
    if (listed <= REDIS_SESSION_PAGE || client.closed) return;
    if (fresh === 0) await new Promise((r) => setTimeout(r, 20));
  }
}

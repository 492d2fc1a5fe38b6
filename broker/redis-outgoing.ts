import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';

/** aedes-persistence-redis' modules as it resolves them: its own ioredis (5) and msgpack. */
const packageRequire = createRequire(createRequire(import.meta.url).resolve('aedes-persistence-redis'));
const msgpack = packageRequire('msgpack-lite') as {
  decode(buffer: Buffer): unknown;
  encode(value: unknown): Buffer;
};
/** aedes-persistence's Packet: the fields of a publish the package stores. */
const Packet = packageRequire('aedes-persistence').Packet as new (packet: object) => object;

/** The package's connection, which the broker also reads a session's queue on. */
export interface PersistenceConnection {
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  mgetBuffer(...keys: string[]): Promise<(Buffer | null)[]>;
  lrem(key: string, count: number, value: string): Promise<number>;
  mset(...keysAndValues: (string | Buffer | number)[]): Promise<unknown>;
  rpush(key: string, value: string): Promise<number>;
}

export const PackageRedis = packageRequire('ioredis') as new (options: RedisOptions) => PersistenceConnection;

const queueKey = (clientId: string) => `outgoing:${encodeURIComponent(clientId)}`;

/**
 * Queues a message for the persistent sessions `subs` as the package's `outgoingEnqueueCombi` does (its
 * keys and encoding, for one Redis without a packet TTL, which is how the broker opens it), but with the
 * commands issued together: the package awaited MSET, then each session's RPUSH in turn, so with
 * auto-pipelining every one still went in a write of its own. Redis runs them in the order sent.
 */
export async function enqueue(
  db: PersistenceConnection,
  subs: { clientId: string }[],
  packet: { brokerId: string; brokerCounter: number },
): Promise<void> {
  if (subs.length === 0) return;
  const key = `packet:${packet.brokerId}:${packet.brokerCounter}`;
  await Promise.all([
    db.mset(key, msgpack.encode(new Packet(packet)), `${key}:offlineCount`, subs.length),
    ...subs.map((sub) => db.rpush(queueKey(sub.clientId), key)),
  ]);
}

/** aedes-persistence-redis' default page: it reads the first 1,001 entries of a session's queue. */
const REDIS_SESSION_PAGE = 1_000;

/**
 * The unsent entries of one page from the head of a client's queue (the package's keys and encoding): one
 * LRANGE, then one MGET of the keys not sent yet, so waiting on a page already sent costs no packet
 * fetched and decoded again (the busy re-read of 1,001 packets every 20 ms that bench/redis-persistence.ts
 * showed while a replay waited for acknowledgements). `recheck` fetches the sent ones too, only to find
 * those whose packet is gone. `listed` counts the list's entries, packets acknowledged meanwhile included:
 * they are gone by the fetch, and a page short of them is not the end.
 */
async function page(
  db: PersistenceConnection,
  clientId: string,
  sent: ReadonlySet<string>,
  recheck: boolean,
) {
  const list = queueKey(clientId);
  const listed = await db.lrange(list, 0, REDIS_SESSION_PAGE);
  const keys = recheck ? listed : listed.filter((key) => !sent.has(key));
  const values = keys.length > 0 ? await db.mgetBuffer(...keys) : [];
  const packets: { key: string; packet: Record<string, unknown> }[] = [];
  const gone: string[] = [];
  for (const [i, value] of values.entries()) {
    const key = keys[i]!;
    if (!value) gone.push(key);
    else if (!sent.has(key)) packets.push({ key, packet: msgpack.decode(value) as Record<string, unknown> });
  }
  // A key whose packet is gone leaves the list, as the package's own read does; all in one write.
  await Promise.all(gone.map((key) => db.lrem(list, 0, key)));
  return { listed: listed.length, packets };
}

/**
 * A QoS 1 packet's `packet:` entry is shared by every session it was queued for, and the package stores in
 * it the packet identifier of the last delivery to any of them (its SET per delivery). Replayed with that
 * identifier, it could take one in flight on this connection: the package then maps both PUBACKs to one
 * entry, the other stays at the head of the queue unacknowledged for good, and the replay stalled behind it
 * (2,922 of 5,330 queued messages never arrived in one run of bench/redis-persistence.ts). Aedes gives a
 * packet without one the connection's next identifier; the client sees a new QoS 1 message, which at least
 * once allows. A QoS 2 packet keeps its identifier (the abstract persistence suite asks for it).
 */
function ownIdentifier(packet: Record<string, unknown>): Record<string, unknown> {
  if (packet.qos === 1 && packet.cmd === 'publish') delete packet.messageId;
  return packet;
}

/** While a page of only already-sent entries waits: how often it is checked for packets gone meanwhile. */
const PAGE_RECHECK_MS = 1_000;
/**
 * How long it may wait for one of them to be acknowledged before it is sent again: longer than a loaded
 * broker's PUBACK round trip (p99 up to 5 s in bench runs on a shared box), short enough that a stuck head
 * costs seconds, not the rest of the connection.
 */
const PAGE_RESEND_MS = 10_000;
const WAIT_MS = 20;

/**
 * A returning persistent session's whole queue. The package reads one page from the head of the queue per
 * reconnect, so a session that fell more than ~1,000 messages behind got the rest only at later reconnects
 * (6,024 readings stuck in the fault sweep). Entries leave the head as the client acknowledges them, so the
 * head is read again until the list holds no more than a page; a page of only already-sent entries waits
 * for acknowledgements (this bounds what is in flight to one page). Entries queued after the session
 * returned are also delivered live, so a few may be sent twice: at least once, as QoS 1 promises.
 *
 * An acknowledgement does not always clear its entry: the package's clear removes nothing when the packet
 * was deleted first (its count of sessions ran out early: a message delivered twice to one session counts
 * down twice) or when the identifier's mapping is lost. A page stuck so held the rest of the queue until
 * the next reconnect (1 of 10 bench/redis-persistence.ts runs once sent pages were no longer fetched
 * again; which of the two, not pinned down). So a waiting page is checked every PAGE_RECHECK_MS for packets gone, which leave the list, and
 * one unchanged for PAGE_RESEND_MS is sent again under new identifiers.
 */
export async function* allOutgoing(
  db: PersistenceConnection,
  client: { id: string; closed?: boolean },
): AsyncGenerator<unknown> {
  const sent = new Set<string>();
  let waited = 0;
  for (;;) {
    const recheck = waited > 0 && waited % PAGE_RECHECK_MS === 0;
    const { listed, packets } = await page(db, client.id, sent, recheck);
    for (const { key, packet } of packets) {
      sent.add(key);
      yield ownIdentifier(packet);
    }
    if (listed <= REDIS_SESSION_PAGE || client.closed) return;
    if (packets.length > 0) waited = 0;
    else {
      await new Promise((r) => setTimeout(r, WAIT_MS));
      waited += WAIT_MS;
      if (waited >= PAGE_RESEND_MS) {
        sent.clear();
        waited = 0;
      }
    }
  }
}

import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

/** What Aedes keeps of a QoS 1/2 packet on its way to a persistent-session subscriber. */
interface OutgoingPacket {
  brokerId: string;
  brokerCounter: number;
  messageId?: number;
}

type PacketClass = new (packet: object) => OutgoingPacket;
const Packet = require('aedes-packet') as PacketClass;
const AsyncMemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new (
  options?: object,
) => object;

/** One subscriber's undelivered and unacknowledged packets, in delivery order, found by id in O(1). */
class OutgoingQueue {
  readonly byKey = new Map<string, OutgoingPacket>();
  readonly keyOfMessageId = new Map<number, string>();
}

const keyOf = (packet: OutgoingPacket) => `${packet.brokerId}:${packet.brokerCounter}`;

/**
 * Aedes' in-memory persistence with the outgoing queues indexed. The stock one keeps each subscriber's queue
 * as an array and scans it from the oldest packet on every delivery (to record the packet id) and every
 * PUBACK: with ingest holding thousands of messages unacknowledged until InfluxDB has them, that scan was
 * the broker's largest cost at 10,000 readings/s (15 % of its CPU in a profile). Everything else is the
 * stock persistence, and this one passes its abstract test suite (outgoing-persistence.test.ts).
 */
export class IndexedMemoryPersistence extends AsyncMemoryPersistence {
  readonly #queues = new Map<string, OutgoingQueue>();

  #queue(clientId: string): OutgoingQueue {
    let queue = this.#queues.get(clientId);
    if (!queue) {
      queue = new OutgoingQueue();
      this.#queues.set(clientId, queue);
    }
    return queue;
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void> {
    const copy = new Packet(packet);
    this.#queue(sub.clientId).byKey.set(keyOf(copy), copy);
  }

  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void> {
    for (const sub of subs) await this.outgoingEnqueue(sub, packet);
  }

  /** Records the packet id a delivery got; a packet of another broker with that id is replaced, as stock. */
  async outgoingUpdate(client: { id: string }, packet: OutgoingPacket): Promise<void> {
    const queue = this.#queue(client.id);
    const key = keyOf(packet);
    const held = queue.byKey.get(key);
    if (held) {
      if (held.messageId !== undefined && queue.keyOfMessageId.get(held.messageId) === key)
        queue.keyOfMessageId.delete(held.messageId);
      held.messageId = packet.messageId;
      if (packet.messageId !== undefined) queue.keyOfMessageId.set(packet.messageId, key);
      return;
    }
    const other = packet.messageId === undefined ? undefined : queue.keyOfMessageId.get(packet.messageId);
    if (other === undefined) throw new Error('no such packet');
    queue.byKey.set(other, packet);
  }

  async outgoingClearMessageId(
    client: { id: string },
    packet: { messageId: number },
  ): Promise<OutgoingPacket | undefined> {
    const queue = this.#queue(client.id);
    const key = queue.keyOfMessageId.get(packet.messageId);
    if (key === undefined) return undefined;
    const held = queue.byKey.get(key);
    queue.byKey.delete(key);
    queue.keyOfMessageId.delete(packet.messageId);
    return held;
  }

  outgoingStream(client: { id: string }): Readable {
    // A copy: Aedes may clear packets while it streams them.
    return Readable.from([...this.#queue(client.id).byKey.values()]);
  }
}

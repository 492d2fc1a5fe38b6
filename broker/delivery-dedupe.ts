import type { Client } from 'aedes';

type Deliver = (packet: unknown, callback: (error?: Error) => void) => void;
interface Delivering {
  deliverQoS: Deliver;
  deliver0: Deliver;
  duplicates: Record<string, number>;
}

/** What Aedes stamps on a message when it is published. */
interface Stamped {
  brokerId?: string;
  brokerCounter?: number;
}

/** Never says "seen": Aedes' own check then lets every delivery through. */
const NOTHING_SEEN = new Proxy(Object.create(null) as Record<string, number>, {
  get: () => 0,
  set: () => true,
  deleteProperty: () => true,
});

/**
 * One copy per message to a client, without dropping the messages that arrive out of publish order.
 * Aedes drops a delivery as a duplicate when its publish counter is not above the highest it delivered to
 * that client (`dedupe` in aedes/lib/client.js), which assumes the emitter hands messages on in publish
 * order. With the Redis persistence they are not: a retained message waits for its write, and a QoS 1
 * message waits one round trip per persistent subscriber before it is emitted, while others pass. A
 * subscriber to device statuses (retained) and readings, as the rules are, got 1 of 500 statuses
 * published between readings (in memory: 500); their publisher had its PUBACK. Aedes' check exists for a
 * client whose subscriptions overlap, which gets the message once per matching subscription, one right
 * after another: that repeat is what is dropped here, by its publish stamp, and Aedes' check is switched
 * off for the client.
 */
export function dedupeByMessage(client: Client): void {
  const delivering = client as unknown as Delivering;
  delivering.duplicates = NOTHING_SEEN;
  let last: string | undefined;
  // Aedes' deliverQoS hands a QoS 0 message to deliver0 itself: that is one delivery, not two.
  let handing = false;
  const once =
    (deliver: Deliver): Deliver =>
    (packet, callback) => {
      if (handing) return deliver(packet, callback);
      // Overlapping subscriptions are delivered one after another within one emit, each a copy stamped
      // with the same publish.
      const { brokerId, brokerCounter } = packet as Stamped;
      const key = brokerId === undefined ? undefined : `${brokerId}:${brokerCounter}`;
      if (key !== undefined && key === last) {
        setImmediate(callback);
        return;
      }
      last = key;
      handing = true;
      try {
        deliver(packet, callback);
      } finally {
        handing = false;
      }
    };
  delivering.deliverQoS = once(delivering.deliverQoS);
  delivering.deliver0 = once(delivering.deliver0);
}

import type { Aedes, Client, PublishPacket } from 'aedes';

type Publish = (packet: PublishPacket, client: Client | null, done: (error?: Error | null) => void) => void;

/**
 * Aedes writes a QoS 1 PUBACK before it stores and routes the message (its handlers/publish.js), so a
 * broker killed in between had acknowledged what no queue held. The returned function publishes the message
 * (queued for every persistent session, handed to the emitter) from authorizePublish, before the PUBACK, and
 * Aedes' own publish of it after the PUBACK is skipped.
 */
export function publishBeforeAck(aedes: Aedes): Publish {
  const published = new WeakSet<object>();
  const publish = aedes.publish.bind(aedes) as unknown as Publish;
  (aedes as unknown as { publish: Publish }).publish = (packet, client, done) => {
    if (!published.delete(packet)) return publish(packet, client, done);
    // Aedes' own calls pass the client; ours pass only a callback.
    (typeof client === 'function' ? (client as typeof done) : done)?.(null);
  };
  return (packet, client, done) =>
    publish(packet, client, (error) => {
      if (error) return done(error);
      published.add(packet);
      done(null);
    });
}

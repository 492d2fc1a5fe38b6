import type { Aedes, Client } from 'aedes';

/** Aedes' per-client delivery functions, which its type declarations leave out. */
type Deliver = (packet: unknown, callback: (error?: Error) => void) => void;
interface Delivering {
  deliverQoS: Deliver;
  deliver0: Deliver;
}

/**
 * [MQTT-3.2.0-1] The first packet a client receives must be its CONNACK. Aedes 1.2 restores a persistent
 * session's subscriptions before it writes the CONNACK and delivers whatever matches them in between, so a
 * service resuming its session while readings flow (a rules or ingest restart at nap time) could get a
 * PUBLISH first. mqtt.js then never reports the connection as open and waits out its 30 s connect timeout;
 * the rules service exited on that and its supervisor restarted it (the multi-node failover runs, one
 * restart in eleven; a loop of persistent reconnects on a Redis broker pair, 2 in 60). Deliveries to a
 * client are held here until its CONNACK is written, then passed on in the order they came.
 */
export class ConnackFirst {
  /** Each guarded client's release, until its CONNACK is written or its connection closes. */
  readonly #releases = new WeakMap<Client, () => void>();

  constructor(aedes: Aedes) {
    aedes.on('connackSent', (_packet, client) => this.#releases.get(client)?.());
  }

  /** Wraps a client's delivery functions; call before Aedes reads its CONNECT (Aedes captures them at subscribe). */
  guard(client: Client, connection: NodeJS.EventEmitter): void {
    // Read on every delivery for the life of the connection: a local, not a map lookup.
    let held: (() => void)[] | undefined = [];
    const release = () => {
      const queued = held ?? [];
      held = undefined;
      this.#releases.delete(client);
      for (const deliver of queued) deliver();
    };
    this.#releases.set(client, release);
    const gate =
      (deliver: Deliver): Deliver =>
      (packet, callback) => {
        if (held) held.push(() => deliver(packet, callback));
        else deliver(packet, callback);
      };
    const delivering = client as unknown as Delivering;
    delivering.deliverQoS = gate(delivering.deliverQoS);
    delivering.deliver0 = gate(delivering.deliver0);
    // A refused or dropped login gets no CONNACK: what was held then fails to write as for any closed
    // client, so QoS 1 messages stay queued in its session and every callback is answered.
    connection.once('close', release);
  }
}

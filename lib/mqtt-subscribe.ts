import type { MqttClient } from 'mqtt';
import type { Logger } from './logger.ts';
import { type CheckOutcome, unless } from './ops/health.ts';

/**
 * Keeps a persistent-session client (made with `resubscribe: false`) subscribed at QoS 1 to a growing set
 * of filters, whatever happens to the broker. It subscribes again on every CONNACK: a SUBSCRIBE in flight
 * when the connection drops is lost (mqtt.js fails it with "Connection closed"), and a broker restarted
 * without its sessions, or a cluster node that took over a session before its SUBACK, would otherwise leave
 * the client connected and deaf. mqtt.js's own resubscription skips a session the broker says it kept, and
 * its failures reach no one. A subscription never rejects: a failure is logged and retried on the next
 * connection, so a lost broker can never become an unhandled rejection.
 */
export class Subscriptions {
  readonly #client: MqttClient;
  readonly #log: Logger;
  readonly #filters = new Set<string>();
  /** Filters the broker granted on the current connection. */
  readonly #granted = new Set<string>();
  #waiters: (() => void)[] = [];

  constructor(client: MqttClient, log: Logger) {
    this.#client = client;
    this.#log = log;
    client.on('connect', () => {
      this.#granted.clear();
      this.#send([...this.#filters]);
    });
    client.on('close', () => this.#granted.clear());
  }

  /** Connected, and every filter granted on this connection. */
  get ready(): boolean {
    return this.#client.connected && this.#granted.size === this.#filters.size;
  }

  /** The `/healthz` check `mqtt` of a service that reads the bus through this session. */
  health(url: string): CheckOutcome {
    if (!this.#client.connected) return { ok: false, reason: `not connected to the broker at ${url}` };
    return unless(this.ready, `connected to ${url} but not subscribed yet`);
  }

  /** Resolves once every filter (these and the earlier ones) is granted, on this connection or a later one. */
  add(filters: string[]): Promise<void> {
    const fresh = filters.filter((f) => !this.#filters.has(f));
    for (const f of fresh) this.#filters.add(f);
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#client.connected) this.#send(fresh);
    this.#settle();
    return done;
  }

  /**
   * One SUBSCRIBE per filter: the project's broker on Redis persistence did not answer a SUBSCRIBE of several
   * filters from a persistent session (aedes-persistence-redis 12; fixed in broker/subscription-writes.ts,
   * but a cluster not yet upgraded still has it), and one filter per packet costs a few more packets per
   * connection only.
   */
  #send(filters: string[]): void {
    for (const filter of filters) {
      this.#client.subscribe(filter, { qos: 1 }, (error, _granted, suback) => {
        // mqtt.js fails a refused subscription like a lost one; the SUBACK's return code tells them apart.
        if (suback?.granted.some((code) => typeof code === 'number' && code >= 0x80)) {
          this.#log.error({ filter }, 'the broker refused a subscription: check the account and its ACL');
          return;
        }
        if (error) {
          this.#log.warn({ err: error, filter }, 'subscribe failed: again on the next connection');
          return;
        }
        this.#granted.add(filter);
        this.#settle();
      });
    }
  }

  #settle(): void {
    if (!this.ready) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

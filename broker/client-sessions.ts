import type { Client, ConnectPacket } from 'aedes';
import type { Principal } from './acl.ts';
import type { TokenBucket } from './packet-guard.ts';

/** A logged-in connection's state; Aedes' Client is not ours to extend. */
export interface Session {
  principal: Principal;
  /** Its publish rate. */
  bucket: TokenBucket;
}

/**
 * What the hooks know of each client: the CONNECT as Aedes holds it (authenticate may have to turn a foreign
 * stored session into a fresh one), its session once logged in, and the last connection that logged in
 * under each client id (older ones were taken over [MQTT-3.1.4-2]).
 */
export class ClientSessions {
  readonly #connects = new WeakMap<Client, ConnectPacket>();
  readonly #sessions = new WeakMap<Client, Session>();
  readonly #latest = new Map<string, Client>();

  connecting(client: Client, packet: ConnectPacket): void {
    this.#connects.set(client, packet);
  }

  connectOf(client: Client): ConnectPacket | undefined {
    return this.#connects.get(client);
  }

  opened(client: Client, session: Session): void {
    this.#latest.set(client.id, client);
    this.#sessions.set(client, session);
  }

  get(client: Client): Session | undefined {
    return this.#sessions.get(client);
  }

  /** The connection a new login under `clientId` would take over. */
  latest(clientId: string): Client | undefined {
    return this.#latest.get(clientId);
  }

  isLatest(client: Client): boolean {
    return this.#latest.get(client.id) === client;
  }

  /** Forgets a closed connection's login; false when a newer connection had already taken its client id. */
  closed(client: Client): boolean {
    if (!this.isLatest(client)) return false;
    this.#latest.delete(client.id);
    return true;
  }
}

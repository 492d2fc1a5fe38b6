import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Logger } from '../lib/logger.ts';
import type { Principal } from './acl.ts';
import { Qos2Budget, accountOf } from './account-limits.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { GuardedConnection } from './packet-guard.ts';

/** Aedes' persistence of QoS 2 messages awaiting PUBREL. */
interface IncomingStore {
  incomingStorePacket(client: Client, packet: PublishPacket): Promise<void>;
  incomingDelPacket(client: Client, packet: PublishPacket): Promise<void>;
  cleanIncoming?(client: Client): Promise<void>;
}

/**
 * MQTT 3.1.1 cannot refuse one QoS 2 PUBLISH but by closing the connection. Devices send QoS 0/1 only;
 * accounts are held to a budget of QoS 2 messages awaiting PUBREL across all their sessions, kept in step
 * with what Aedes' persistence stores and releases. Aedes bounds each connection itself
 * (`maxInflightInbound`); its refusals are counted here too.
 */
export class Qos2Limits {
  readonly #budget: Qos2Budget;

  constructor(
    aedes: Aedes,
    heldPerAccount: number,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {
    this.#budget = new Qos2Budget(heldPerAccount, (total) => metrics.qos2Held.set(total));
    this.#follow((aedes as unknown as { persistence: IncomingStore }).persistence);
  }

  /** Whether this QoS 2 PUBLISH is refused (counted and logged; the caller closes the connection). */
  refuses(client: Client, principal: Principal, messageId: number | undefined): boolean {
    if (principal.type === 'anonymous') return false;
    const reason =
      principal.type === 'device'
        ? 'device'
        : this.#budget.admit(accountOf(principal), client.id, messageId ?? 0)
          ? null
          : 'account-held';
    if (!reason) return false;
    this.metrics.qos2Refusals.inc({ reason });
    this.log.warn({ clientId: client.id, reason }, 'QoS 2 publish refused; client disconnected');
    return true;
  }

  /** Whether a client error is Aedes' per-connection refusal (then counted and logged). */
  refusedInflight(client: Client, error: Error): boolean {
    if (!error.message.startsWith('maxInflightInbound exceeded')) return false;
    this.metrics.qos2Refusals.inc({ reason: 'client-inflight' });
    this.log.warn(
      { clientId: client.id },
      'QoS 2 publish refused: too many awaiting PUBREL; client disconnected',
    );
    return true;
  }

  /** A logged-in connection: what it was admitted but never stored is released when it closes. */
  opened(client: Client, connection: GuardedConnection): void {
    connection.once('close', () => this.#budget.released(client.id, 'pending'));
  }

  #follow(incoming: IncomingStore): void {
    const budget = this.#budget;
    const { incomingStorePacket, incomingDelPacket, cleanIncoming } = incoming;
    incoming.incomingStorePacket = async (client, packet) => {
      await incomingStorePacket.call(incoming, client, packet);
      budget.stored(client.id, packet.messageId ?? 0);
    };
    incoming.incomingDelPacket = async (client, packet) => {
      await incomingDelPacket.call(incoming, client, packet);
      budget.released(client.id, packet.messageId ?? 0);
    };
    if (cleanIncoming) {
      incoming.cleanIncoming = async (client) => {
        await cleanIncoming.call(incoming, client);
        budget.released(client.id, 'all');
      };
    }
  }
}

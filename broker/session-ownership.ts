import type { Aedes, Client, ConnectPacket } from 'aedes';
import type { Logger } from '../lib/logger.ts';
import type { Principal } from './acl.ts';
import { ownerKey, type SessionOwners } from './identity.ts';
import type { BrokerMetrics } from './metrics.ts';

/**
 * Stored sessions belong to the principal that made them: a persistent login whose recorded owner differs
 * starts a fresh session instead, its old queue discarded undelivered.
 */
export class SessionOwnership {
  /** Clients whose stored session was discarded: persistent again once the old queue is gone. */
  readonly #restarted = new WeakSet<Client>();

  constructor(
    aedes: Aedes,
    private readonly owners: SessionOwners,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {
    aedes.on('clientReady', (client) => {
      if (this.#restarted.has(client)) client.clean = false;
    });
  }

  /** Records `principal` as the owner of the client's session, discarding another identity's. */
  async claim(client: Client, connect: ConnectPacket | undefined, principal: Principal): Promise<void> {
    const owner = ownerKey(principal);
    const before = await this.owners.claim(client.id, owner);
    if (connect?.clean !== false || before === undefined || before === owner) return;
    // Aedes restores a session from the CONNECT's flag and empties its queue for a clean client: both
    // flags flipped make it discard what the other identity was sent, and clientReady flips them back.
    connect.clean = true;
    client.clean = true;
    this.#restarted.add(client);
    this.metrics.sessionsDiscarded.inc();
    this.log.warn(
      { clientId: client.id, username: connect.username, before, now: owner },
      'stored session of another identity discarded',
    );
  }
}

import type { Socket } from 'node:net';
import type { Aedes, Client } from 'aedes';
import type { Logger } from '../lib/logger.ts';
import type { ClientSocket } from './listeners.ts';
import { ConnackFirst } from './connack-first.ts';
import { type BrokerMetrics, perQos } from './metrics.ts';
import { GuardedConnection } from './packet-guard.ts';

/**
 * Every client's socket, wrapped in a GuardedConnection (packet-size limit, hold switch, messages out) and
 * handed to Aedes; Aedes' Client does not give its connection back, so this keeps it.
 */
export class ClientConnections {
  readonly #open = new Set<GuardedConnection>();
  readonly #of = new WeakMap<Client, GuardedConnection>();
  readonly #messagesOut: ReturnType<typeof perQos>;
  readonly #connackFirst: ConnackFirst;

  constructor(
    private readonly aedes: Aedes,
    private readonly maxPacketBytes: number,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {
    this.#messagesOut = perQos(metrics.messagesOut);
    this.#connackFirst = new ConnackFirst(aedes);
  }

  readonly accept = (socket: ClientSocket): void => {
    const connection = new GuardedConnection(
      socket,
      this.maxPacketBytes,
      (declared) => {
        this.metrics.limitDisconnects.inc({ limit: 'packet-size' });
        this.log.warn(
          { address: socket.remoteAddress, bytes: declared, max: this.maxPacketBytes },
          'client disconnected: packet too large',
        );
      },
      (qos) => this.#messagesOut[qos]?.inc(),
    );
    this.#open.add(connection);
    connection.on('close', () => this.#open.delete(connection));
    const client = this.aedes.handle(connection as unknown as Socket);
    this.#connackFirst.guard(client, connection);
    this.#of.set(client, connection);
  };

  /** The client's connection while it is open. */
  live(client: Client): GuardedConnection | undefined {
    const connection = this.#of.get(client);
    return connection && !connection.destroyed ? connection : undefined;
  }

  destroyAll(): void {
    for (const connection of this.#open) connection.destroy();
  }
}

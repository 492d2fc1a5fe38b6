import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Logger } from '../lib/logger.ts';
import { topics } from '../protocol/topics.ts';
import type { Principal } from './acl.ts';
import { statusPayload } from './device-status.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { TopicAccess } from './topic-access.ts';

/** A device's status as the broker announces it, for a device that does not carry it in a will of its own. */
interface Announced {
  status: PublishPacket;
  /** Its will is on another of its topics, so Aedes will not announce the loss: the broker does. */
  besideWill: boolean;
}

/**
 * Every registered device's loss is announced on its own status topic: supervisors are promised it
 * (docs/design.md), whatever will the device set. A device without a status will gets one from the broker,
 * announced online at connect and offline at any loss.
 */
export class StatusAnnouncer {
  readonly #announced = new WeakMap<Client, Announced>();

  constructor(
    private readonly aedes: Aedes,
    private readonly access: TopicAccess,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {}

  /** At login: the device's will kept, refused and replaced, or given; the broker's status noted. */
  loggedIn(client: Client, principal: Principal): void {
    if (principal.type !== 'device') return;
    const client_ = client as unknown as { _will: PublishPacket | null };
    const statusTopic =
      principal.kind === 'gateway'
        ? topics.gatewayStatus(principal.center, principal.id)
        : topics.deviceStatus(principal.center, principal.id);
    const own = client_._will;
    if (own?.topic === statusTopic) return;
    const status = {
      cmd: 'publish',
      topic: statusTopic,
      payload: statusPayload('offline'),
      qos: 1,
      retain: true,
      dup: false,
    } as PublishPacket;
    const refused = !!own && !this.access.mayWrite(principal, client.id, own.topic);
    if (refused) {
      // Refused now rather than at the loss, so the broker's status will takes its place (and, in a
      // cluster, is the will a surviving node finds).
      this.metrics.aclRefusals.inc({ action: 'will' });
      this.log.warn({ clientId: client.id, topic: own.topic.slice(0, 200) }, 'will refused by ACL; replaced');
    }
    if (!own || refused) client_._will = status;
    this.#announced.set(client, { status, besideWill: !!own && !refused });
  }

  online(client: Client): void {
    const announced = this.#announced.get(client);
    if (announced) this.#publish(announced.status, 'online');
  }

  /** A connection of the client id's latest login closed. */
  left(client: Client): void {
    const announced = this.#announced.get(client);
    // A clean DISCONNECT discards the will [MQTT-3.1.2-10], which would leave the device "online" in its
    // retained status for good; and a will on another topic announces nothing. The broker announced the
    // device, so it announces the leave.
    const clean = (client as unknown as { _disconnected?: boolean })._disconnected === true;
    if (announced && (clean || announced.besideWill)) this.#publish(announced.status, 'offline');
  }

  #publish(status: PublishPacket, state: 'online' | 'offline'): void {
    this.aedes.publish({ ...status, payload: statusPayload(state) } as PublishPacket, () => {});
  }
}

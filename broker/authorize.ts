import type { Aedes } from 'aedes';
import type { Logger } from '../lib/logger.ts';
import type { ClientSessions } from './client-sessions.ts';
import { refreshStatusWill } from './device-status.ts';
import { type BrokerMetrics, perQos } from './metrics.ts';
import { publishBeforeAck } from './publish-before-ack.ts';
import type { Qos2Limits } from './qos2-limits.ts';
import type { TopicAccess } from './topic-access.ts';

export interface AuthorizeDeps {
  sessions: ClientSessions;
  access: TopicAccess;
  qos2: Qos2Limits;
  /** The per-device publish rate, for the log. */
  publishRate: number;
  metrics: BrokerMetrics;
  log: Logger;
}

/**
 * Aedes' authorizePublish, authorizeSubscribe and authorizeForward: every publish, will, subscription and
 * delivery checked against the principal's rights, and a publishing device against its rate.
 */
export function installAuthorization(aedes: Aedes, deps: AuthorizeDeps): void {
  const { sessions, access, qos2, metrics, log } = deps;
  const messagesIn = perQos(metrics.messagesIn);
  const publishFirst = publishBeforeAck(aedes);

  aedes.authorizePublish = (client, packet, callback) => {
    if (!client) {
      // A will of a client that lived on another (dead) cluster node: checked by the ACL when it connected.
      refreshStatusWill(packet);
      return callback(null);
    }
    const session = sessions.get(client);
    if (!session) return callback(new Error('not authenticated'));
    const isWill = packet === (client as unknown as { will: unknown }).will;
    if (isWill) {
      // A connection taken over by the same device's new one [MQTT-3.1.4-2] is no loss: its "offline"
      // could land after the new connection's "online" and leave the device marked gone.
      if (!sessions.isLatest(client)) return callback(new Error('superseded by a new connection'));
      refreshStatusWill(packet);
    } else if (session.principal.type !== 'service' && !session.bucket.take()) {
      metrics.limitDisconnects.inc({ limit: 'publish-rate' });
      log.warn({ clientId: client.id, rate: deps.publishRate }, 'client disconnected: publish rate limit');
      return callback(new Error('publish rate limit exceeded'));
    }
    if (!access.mayWrite(session.principal, client.id, packet.topic)) {
      metrics.aclRefusals.inc({ action: 'publish' });
      log.warn(
        { clientId: client.id, topic: packet.topic.slice(0, 200) },
        'publish refused by ACL; client disconnected',
      );
      return callback(new Error('publish not authorised'));
    }
    if (!isWill && packet.qos === 2 && qos2.refuses(client, session.principal, packet.messageId)) {
      return callback(new Error('QoS 2 publish refused'));
    }
    messagesIn[packet.qos]?.inc();
    metrics.bytesIn.inc(packet.payload.length);
    // Retained messages (device status) keep Aedes' order: routed before the PUBACK, devices' birth statuses
    // went missing for ingest (dashboards/queries.test.ts, 9 of 22 status points), and a status is restated
    // by the next one and by the broker's own announcement of a loss anyway.
    if (packet.qos !== 1 || isWill || packet.retain) return callback(null);
    publishFirst(packet, client, callback);
  };

  aedes.authorizeSubscribe = (client, subscription, callback) => {
    const session = sessions.get(client);
    if (session && access.mayRead(session.principal, client.id, subscription.topic))
      return callback(null, subscription);
    metrics.aclRefusals.inc({ action: 'subscribe' });
    log.warn({ clientId: client.id, topic: subscription.topic.slice(0, 200) }, 'subscription refused by ACL');
    // SUBACK 0x80 for this filter; the connection stays.
    callback(null, null);
  };

  aedes.authorizeForward = (client, packet) => {
    const session = sessions.get(client);
    // Read rights checked per message, not only per subscription: a queue filled under another identity,
    // or a subscription made before a registry change, must not deliver what this principal may not read.
    if (session && access.mayRead(session.principal, client.id, packet.topic)) return packet;
    metrics.forwardRefusals.inc();
    return null;
  };
}

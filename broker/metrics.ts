import { Counter, Gauge, Registry } from 'prom-client';
import { metricPrefix } from '../lib/ops/index.ts';

/** One registry per broker, so several services in one process (`cradlewatch up`) keep their metrics apart. */
export function createBrokerMetrics() {
  const registry = new Registry();
  const prefix = metricPrefix('broker');
  return {
    registry,
    clients: new Gauge({
      name: `${prefix}clients_connected`,
      help: 'MQTT clients connected',
      registers: [registry],
    }),
    messagesIn: new Counter({
      name: `${prefix}messages_in_total`,
      help: 'PUBLISH packets accepted from clients, by QoS',
      labelNames: ['qos'],
      registers: [registry],
    }),
    messagesOut: new Counter({
      name: `${prefix}messages_out_total`,
      help: 'PUBLISH packets delivered to clients, by QoS',
      labelNames: ['qos'],
      registers: [registry],
    }),
    bytesIn: new Counter({
      name: `${prefix}payload_in_bytes_total`,
      help: 'Payload bytes accepted',
      registers: [registry],
    }),
    authFailures: new Counter({
      name: `${prefix}auth_failures_total`,
      help: 'Refused logins, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    aclRefusals: new Counter({
      name: `${prefix}acl_refusals_total`,
      help: 'Refused publishes and subscriptions',
      labelNames: ['action'],
      registers: [registry],
    }),
    limitDisconnects: new Counter({
      name: `${prefix}limit_disconnects_total`,
      help: 'Clients disconnected for breaking a limit',
      labelNames: ['limit'],
      registers: [registry],
    }),
    clientIdRefusals: new Counter({
      name: `${prefix}client_id_refusals_total`,
      help: 'Logins refused because the client id is not bound to the authenticated principal, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sessionsDiscarded: new Counter({
      name: `${prefix}sessions_discarded_total`,
      help: 'Stored sessions started afresh because they were made under another identity',
      registers: [registry],
    }),
    forwardRefusals: new Counter({
      name: `${prefix}forward_refusals_total`,
      help: 'Messages not delivered to a client because its principal may not read the topic',
      registers: [registry],
    }),
    accountLimitRefusals: new Counter({
      name: `${prefix}account_limit_refusals_total`,
      help: 'Logins refused by a per-account limit (open connections, connection rate)',
      labelNames: ['limit'],
      registers: [registry],
    }),
    loginDelays: new Counter({
      name: `${prefix}login_delays_total`,
      help: 'Login answers held back after repeated failures of one username from one address',
      registers: [registry],
    }),
    loginRefusals: new Counter({
      name: `${prefix}login_address_refusals_total`,
      help: 'Logins refused because their address already had its queue of password checks full',
      registers: [registry],
    }),
    qos2Refusals: new Counter({
      name: `${prefix}qos2_refusals_total`,
      help: 'QoS 2 publishes refused (connection closed), by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    qos2Held: new Gauge({
      name: `${prefix}qos2_held`,
      help: 'QoS 2 messages received and stored, awaiting their PUBREL, over all sessions',
      registers: [registry],
    }),
    backlogBytes: new Gauge({
      name: `${prefix}backlog_bytes`,
      help: 'Bytes waiting on subscriber sockets plus messages queued inside the broker',
      registers: [registry],
    }),
    emitterBusy: new Gauge({
      name: `${prefix}emitter_busy`,
      help: "Messages in the broker's emitter, delivering or queued: an alarm waits once it is full",
      registers: [registry],
    }),
    telemetryHeld: new Gauge({
      name: `${prefix}telemetry_held`,
      help: '1 while the broker has stopped reading from telemetry publishers to bound memory',
      registers: [registry],
    }),
    holds: new Counter({
      name: `${prefix}overload_holds_total`,
      help: 'Times telemetry was held',
      registers: [registry],
    }),
  };
}
export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>;

/** A by-QoS counter's children for QoS 0, 1 and 2, bound once: a labelled inc() hashes its labels each time. */
export function perQos(counter: Counter<'qos'>) {
  return [0, 1, 2].map((qos) => counter.labels(String(qos)));
}

export interface BrokerStats {
  clients: number;
  messagesIn: number;
  authFailures: number;
  aclRefusals: number;
  limitDisconnects: number;
  telemetryHeld: boolean;
}

async function total(counter: Counter): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}

export async function readStats(m: BrokerMetrics, held: boolean): Promise<BrokerStats> {
  return {
    clients: (await m.clients.get()).values[0]?.value ?? 0,
    messagesIn: await total(m.messagesIn),
    authFailures: await total(m.authFailures),
    aclRefusals: await total(m.aclRefusals),
    limitDisconnects: await total(m.limitDisconnects),
    telemetryHeld: held,
  };
}

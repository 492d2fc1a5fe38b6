import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import Fastify, { type FastifyInstance } from 'fastify';
import { FleetWatcher } from '../lib/fleet-file.ts';
import type { Logger } from '../lib/logger.ts';
import { type OpsSource, registerOpsRoutes, unless } from '../lib/ops/index.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import { installAuthentication } from './authenticate.ts';
import { installAuthorization } from './authorize.ts';
import { ClientConnections } from './client-connections.ts';
import { ClientSessions } from './client-sessions.ts';
import type { BrokerConfig } from './config.ts';
import { openListeners } from './listeners.ts';
import { type BrokerMetrics, type BrokerStats, createBrokerMetrics, readStats } from './metrics.ts';
import { announceHolds, defaultBrokerId } from './hold-announcer.ts';
import { type EmitterLoad, OverloadGuard, isTelemetryPublisher } from './overload-guard.ts';
import { keepReleasesAsync, type SubscribingEmitter } from './emitter-releases.ts';
import { type LocalEmitter, PriorityLane } from './priority-lane.ts';
import { Qos2Limits } from './qos2-limits.ts';
import { SessionOwnership } from './session-ownership.ts';
import { openSessionStore } from './session-store.ts';
import { StatusAnnouncer } from './status-announcer.ts';
import { TopicAccess } from './topic-access.ts';

/** Deliveries in flight at once inside Aedes' emitter. */
const EMITTER_CONCURRENCY = 1_000;

export interface RunningBroker {
  mqttUrl: string;
  tlsUrl?: string;
  wsUrl?: string;
  httpUrl?: string;
  aedes: Aedes;
  metrics: BrokerMetrics;
  /** Its metrics and health checks, for its own /healthz + /metrics or a shared one (`cradlewatch up`). */
  ops: OpsSource;
  stats(): Promise<BrokerStats>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  /** An in-memory registry instead of config.fleetFile (`cradlewatch up`, tests). */
  fleet?: FleetIndex;
}

/**
 * The cradlewatch broker: Aedes with registry-backed authentication, per-device topic ACLs, packet-size,
 * rate and connection limits, an overload guard that holds telemetry before alarms, device status on
 * connect and loss, and /healthz + /metrics. This wires the modules that do each.
 */
export async function startBroker(
  config: BrokerConfig,
  log: Logger,
  options: BrokerOptions = {},
): Promise<RunningBroker> {
  const watcher =
    options.fleet || !config.fleetFile ? undefined : new FleetWatcher(config.fleetFile, log).start();
  const fleet = () => options.fleet ?? watcher?.current;
  if (!config.allowAnonymous && !fleet() && config.accounts.length === 0) {
    throw new Error('broker has no one to let in: give fleetFile, accounts, or allowAnonymous');
  }
  if (config.allowAnonymous) {
    log.warn('ANONYMOUS MODE: no authentication, every topic open to every client. For development only.');
  }
  const metrics = createBrokerMetrics();
  const access = new TopicAccess(config.aclFile);
  const store = await openSessionStore(config, log);
  const aedes = await Aedes.createBroker({
    ...store.backends,
    concurrency: EMITTER_CONCURRENCY,
    maxInflightInbound: config.limits.qos2InflightPerClient,
    drainTimeout: 30_000,
    heartbeatInterval: 60_000,
  });
  const connections = new ClientConnections(aedes, config.limits.maxPacketBytes, metrics, log);
  const sessions = new ClientSessions();
  const qos2 = new Qos2Limits(aedes, config.limits.qos2HeldPerAccount, metrics, log);
  const statuses = new StatusAnnouncer(aedes, access, metrics, log);
  const ownership = new SessionOwnership(aedes, store.owners, metrics, log);
  installAuthentication(aedes, {
    config,
    fleet,
    sessions,
    connections,
    ownership,
    statuses,
    qos2,
    metrics,
    log,
  });
  installAuthorization(aedes, {
    sessions,
    access,
    qos2,
    publishRate: config.limits.publishRate,
    metrics,
    log,
  });

  aedes.on('clientReady', (client) => {
    metrics.clients.set(aedes.connectedClients);
    statuses.online(client);
  });
  aedes.on('clientDisconnect', (client) => {
    metrics.clients.set(aedes.connectedClients);
    // A connection taken over by the same client id [MQTT-3.1.4-2] is no loss: the device is online on the
    // new one.
    if (sessions.closed(client)) statuses.left(client);
  });
  aedes.on('clientError', (client, error) => {
    if (!qos2.refusedInflight(client, error)) {
      log.debug({ clientId: client.id, err: error.message }, 'client error');
    }
  });
  aedes.on('connectionError', (client, error) =>
    log.debug({ clientId: client.id, err: error.message }, 'connection error'),
  );

  // Aedes keeps its emitter internal; the overload guard reads its queue.
  const emitter = (aedes as unknown as { mq: EmitterLoad & SubscribingEmitter }).mq;
  keepReleasesAsync(emitter);
  // In a cluster, messages reach the local emitter from Redis pub/sub past the `emit` the lane wraps.
  if (!store.backends.mq) new PriorityLane(aedes, emitter as unknown as LocalEmitter);
  const guard = new OverloadGuard(emitter, {
    highBytes: config.limits.backlogHighBytes,
    lowBytes: config.limits.backlogLowBytes,
    concurrency: EMITTER_CONCURRENCY,
  });
  guard.onMeasure(({ backlog, busy }) => {
    metrics.backlogBytes.set(backlog);
    metrics.emitterBusy.set(busy);
  });
  guard.onChange((held, load) => {
    metrics.telemetryHeld.set(held ? 1 : 0);
    if (held) {
      metrics.holds.inc();
      log.warn(load, 'overload: holding telemetry publishers until subscribers catch up');
    } else log.info(load, 'overload cleared: reading telemetry again');
  });
  guard.start();
  aedes.on('subscribe', (_subscriptions, client) => {
    const connection = connections.live(client);
    if (connection) guard.watchSubscriber(connection);
  });
  aedes.on('clientReady', (client) => {
    const session = sessions.get(client);
    const connection = connections.live(client);
    if (session && connection && isTelemetryPublisher(session.principal)) {
      guard.watchTelemetryPublisher(connection);
    }
  });

  const listeners = await openListeners(config, connections.accept);
  const brokerId = config.id ?? defaultBrokerId(Number(new URL(listeners.mqttUrl).port));
  const stopAnnouncing = announceHolds(aedes, guard, brokerId);
  const running: RunningBroker = {
    mqttUrl: listeners.mqttUrl,
    ...(listeners.tlsUrl ? { tlsUrl: listeners.tlsUrl } : {}),
    ...(listeners.wsUrl ? { wsUrl: listeners.wsUrl } : {}),
    aedes,
    metrics,
    ops: {
      service: 'broker',
      registries: [metrics.registry],
      checks: { mqtt: () => unless(!aedes.closed, 'the broker is closing'), ...store.checks },
    },
    stats: () => readStats(metrics, guard.held),
    close: async () => {},
  };
  let app: FastifyInstance | undefined;
  if (config.httpPort !== undefined) {
    app = Fastify({ logger: false });
    registerOpsRoutes(app, [running.ops]);
    await app.listen({ port: config.httpPort, host: config.host });
    running.httpUrl = `http://${config.host}:${(app.server.address() as AddressInfo).port}`;
  }
  log.info(
    {
      mqtt: running.mqttUrl,
      tls: running.tlsUrl,
      ws: running.wsUrl,
      http: running.httpUrl,
      redis: Boolean(config.redis),
      brokerId,
    },
    'broker listening',
  );

  running.close = async () => {
    guard.stop();
    stopAnnouncing();
    watcher?.close();
    const listenersClosed = listeners.close();
    // Closing Aedes disconnects its clients (their wills are not sent: the broker is leaving, not them).
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    connections.destroyAll();
    await listenersClosed;
    await app?.close();
    await store.close();
  };
  return running;
}

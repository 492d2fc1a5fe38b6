import type { AddressInfo } from 'node:net';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import Fastify, { type FastifyInstance } from 'fastify';
import { FleetWatcher } from '../lib/fleet-file.ts';
import type { Logger } from '../lib/logger.ts';
import { type OpsSource, registerOpsRoutes, unless } from '../lib/ops/index.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import { parseTopic, topics } from '../protocol/topics.ts';
import { type Principal, canPublish, canSubscribe } from './acl.ts';
import { AccountConnections, AddressGate, Qos2Budget } from './account-limits.ts';
import { OperatorAcl } from './acl-file.ts';
import { Authenticator, FailureThrottle } from './auth.ts';
import { clientIdRefusal, ownerKey } from './identity.ts';
import type { BrokerConfig } from './config.ts';
import { openSessionStore } from './session-store.ts';
import { type BrokerMetrics, type BrokerStats, createBrokerMetrics, perQos, readStats } from './metrics.ts';
import { ClientConnections } from './client-connections.ts';
import { openListeners } from './listeners.ts';
import { TokenBucket } from './packet-guard.ts';
import { offlineStatusFrom, statusPayload } from './device-status.ts';
import { type EmitterLoad, OverloadGuard } from './overload-guard.ts';

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

/** Per-connection state the hooks share; Aedes' Client is not ours to extend. */
interface Session {
  principal: Principal;
  bucket: TokenBucket;
  /**
   * A device's status as the broker announces it (online at connect, offline at any loss), for a device that
   * does not carry its status in a will of its own.
   */
  brokerStatus?: PublishPacket;
  /** Its will is on another of its topics, so Aedes will not announce the loss: the broker does. */
  offlineBesideWill?: boolean;
}

class AddressBusy extends Error {}

/** The account a limit counts against: a device id or a username. */
function accountOf(principal: Principal): string {
  if (principal.type === 'device') return principal.id;
  return principal.type === 'service' ? principal.username : 'anonymous';
}

/** Devices that only stream readings: the first traffic to hold when the broker runs out of room. */
function isTelemetryPublisher(principal: Principal): boolean {
  return principal.type === 'device' && principal.kind !== 'alarm';
}

/**
 * The cradlewatch broker: Aedes with registry-backed authentication, per-device topic ACLs, packet-size,
 * rate and connection limits, an overload guard that holds telemetry before alarms, device status on
 * connect and loss, and /healthz + /metrics.
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
  const messagesIn = perQos(metrics.messagesIn);
  const auth = new Authenticator(fleet, config.accounts);
  const throttle = new FailureThrottle(
    config.limits.authFailuresBeforeDelay,
    config.limits.authFailureDelayMs,
  );
  const gate = new AddressGate(config.limits.loginChecksPerAddress, config.limits.loginQueuePerAddress);
  const accountConnections = new AccountConnections<Client>(
    config.limits.connectionsPerAccount,
    config.limits.connectRatePerAccount,
    config.limits.connectBurstPerAccount,
  );
  const qos2 = new Qos2Budget(config.limits.qos2HeldPerAccount, (total) => metrics.qos2Held.set(total));
  const sessions = new WeakMap<Client, Session>();
  // The registry's ACL, then the operator's file (allow grants, deny takes away).
  const operatorAcl = config.aclFile ? OperatorAcl.load(config.aclFile) : undefined;
  const subject = (principal: Principal, clientId: string) => ({
    username:
      principal.type === 'device'
        ? principal.id
        : principal.type === 'service'
          ? principal.username
          : undefined,
    clientId,
  });
  const mayWrite = (principal: Principal, clientId: string, topic: string) => {
    const registry = canPublish(principal, topic);
    return operatorAcl
      ? operatorAcl.decide(subject(principal, clientId), topic, 'write', registry)
      : registry;
  };
  const mayRead = (principal: Principal, clientId: string, filter: string) => {
    const registry = canSubscribe(principal, filter);
    return operatorAcl
      ? operatorAcl.decide(subject(principal, clientId), filter, 'read', registry)
      : registry;
  };
  /** The last connection that logged in under each client id: older ones were taken over. */
  const latestLogin = new Map<string, Client>();

  const store = await openSessionStore(config, log);
  const { owners } = store;
  const aedes = await Aedes.createBroker({
    ...store.backends,
    concurrency: EMITTER_CONCURRENCY,
    maxInflightInbound: config.limits.qos2InflightPerClient,
    drainTimeout: 30_000,
    heartbeatInterval: 60_000,
  });
  const connections = new ClientConnections(aedes, config.limits.maxPacketBytes, metrics, log);

  const addressOf = (client: Client) =>
    (client.conn as unknown as { remoteAddress?: string }).remoteAddress ?? 'unknown';

  // [MQTT-3.1.3-8]: a zero-byte client id with CleanSession 0 gets CONNACK 2. Aedes invents an id before
  // authenticate runs, so preConnect, which still sees the CONNECT, marks such clients.
  const anonymousPersistent = new WeakSet<Client>();
  // The CONNECT as Aedes holds it: authenticate may have to turn a foreign stored session into a fresh one.
  const connects = new WeakMap<Client, { clientId: string; clean?: boolean }>();
  // Clients whose stored session was discarded: persistent again once the old queue is gone.
  const restartedSessions = new WeakSet<Client>();
  aedes.preConnect = (client, packet, callback) => {
    if (!packet.clientId && packet.clean === false) anonymousPersistent.add(client);
    connects.set(client, packet);
    callback(null, true);
  };

  aedes.authenticate = (client, username, password, callback) => {
    if (anonymousPersistent.has(client)) {
      return callback(Object.assign(new Error('identifier rejected'), { returnCode: 2 }), false);
    }
    if (aedes.connectedClients >= config.limits.maxConnections) {
      // Checked before the password: a full broker spends no scrypt, and says so with CONNACK 3.
      metrics.limitDisconnects.inc({ limit: 'connections' });
      log.warn(
        { address: addressOf(client), max: config.limits.maxConnections },
        'connection refused: at maximum connections',
      );
      return callback(Object.assign(new Error('maximum connections reached'), { returnCode: 3 }), false);
    }
    const address = addressOf(client);
    // Back-off is per username and address: an attacker guessing one account slows only its own guesses.
    const failureKey = `${address}\0${username ?? ''}`;
    const expensive = async (verify: () => Promise<boolean>) => {
      const delay = throttle.delayFor(failureKey);
      if (delay > 0) {
        metrics.loginDelays.inc();
        await new Promise((r) => setTimeout(r, delay));
      }
      const release = await gate.enter(address);
      if (!release) throw new AddressBusy();
      try {
        return await verify();
      } finally {
        release();
      }
    };
    const run = async () => {
      const result = config.allowAnonymous
        ? ({ ok: true, principal: { type: 'anonymous' } } as const)
        : await auth.check(username, password, expensive);
      if (!result.ok) {
        throttle.failed(failureKey);
        metrics.authFailures.inc({ reason: result.reason });
        log.warn({ clientId: client.id, username, address, reason: result.reason }, 'login refused');
        return callback(Object.assign(new Error(result.reason), { returnCode: result.returnCode }), false);
      }
      throttle.succeeded(failureKey);
      const connect = connects.get(client);
      const refusal = clientIdRefusal(result.principal, connect?.clientId ?? client.id, (name) =>
        auth.isName(name),
      );
      if (refusal) {
        metrics.clientIdRefusals.inc({ reason: refusal });
        log.warn({ clientId: client.id, username, address, reason: refusal }, 'login refused: client id');
        return callback(Object.assign(new Error(refusal), { returnCode: 2 }), false);
      }
      if (result.principal.type !== 'anonymous') {
        const account = accountOf(result.principal);
        const limit = accountConnections.admit(account, client, latestLogin.get(client.id));
        if (limit) {
          metrics.accountLimitRefusals.inc({ limit });
          log.warn({ clientId: client.id, account, address, limit }, 'login refused: account limit');
          return callback(Object.assign(new Error(`account ${limit} limit`), { returnCode: 3 }), false);
        }
        const connection = connections.live(client);
        if (!connection) accountConnections.closed(account, client);
        else
          connection.once('close', () => {
            accountConnections.closed(account, client);
            qos2.released(client.id, 'pending');
          });
      }
      const owner = ownerKey(result.principal);
      const before = await owners.claim(client.id, owner);
      if (connect?.clean === false && before !== undefined && before !== owner) {
        // Aedes restores a session from the CONNECT's flag and empties its queue for a clean client: both
        // flags flipped make it discard what the other identity was sent, and clientReady flips them back.
        connect.clean = true;
        client.clean = true;
        restartedSessions.add(client);
        metrics.sessionsDiscarded.inc();
        log.warn(
          { clientId: client.id, username, before, now: owner },
          'stored session of another identity discarded',
        );
      }
      const session: Session = {
        principal: result.principal,
        bucket: new TokenBucket(config.limits.publishRate, config.limits.publishBurst),
      };
      const principal = result.principal;
      if (principal.type === 'device') {
        const client_ = client as unknown as { _will: PublishPacket | null };
        const statusTopic =
          principal.kind === 'gateway'
            ? topics.gatewayStatus(principal.center, principal.id)
            : topics.deviceStatus(principal.center, principal.id);
        const own = client_._will;
        if (own?.topic !== statusTopic) {
          // Supervisors are promised every device's loss (docs/design.md), whatever will the device set.
          session.brokerStatus = {
            cmd: 'publish',
            topic: statusTopic,
            payload: statusPayload('offline'),
            qos: 1,
            retain: true,
            dup: false,
          } as PublishPacket;
          if (own && !mayWrite(principal, client.id, own.topic)) {
            // Refused now rather than at the loss, so the broker's status will takes its place (and, in a
            // cluster, is the will a surviving node finds).
            metrics.aclRefusals.inc({ action: 'will' });
            log.warn(
              { clientId: client.id, topic: own.topic.slice(0, 200) },
              'will refused by ACL; replaced',
            );
            client_._will = session.brokerStatus;
          } else if (own) session.offlineBesideWill = true;
          else client_._will = session.brokerStatus;
        }
      }
      latestLogin.set(client.id, client);
      sessions.set(client, session);
      callback(null, true);
    };
    run().catch((error: unknown) => {
      if (error instanceof AddressBusy) {
        metrics.loginRefusals.inc();
        log.warn({ clientId: client.id, username, address }, 'login refused: too many from this address');
        return callback(Object.assign(new Error('address busy'), { returnCode: 3 }), false);
      }
      log.error({ err: error, clientId: client.id }, 'authentication failed unexpectedly');
      callback(Object.assign(new Error('server unavailable'), { returnCode: 3 }), false);
    });
  };

  // Aedes writes a QoS 1 PUBACK before it stores and routes the message (its handlers/publish.js), so a
  // broker killed in between had acknowledged what no queue held. The message is published (queued for
  // every persistent session, handed to the emitter) before the PUBACK instead, and Aedes' own publish
  // after the PUBACK is skipped. Retained messages (device status) keep Aedes' order: routed this way,
  // devices' birth statuses went missing for ingest (dashboards/queries.test.ts, 9 of 22 status points),
  // and a status is restated by the next one and by the broker's own announcement of a loss anyway.
  const publishedBeforeAck = new WeakSet<object>();
  const publishFirst = aedes.publish.bind(aedes) as unknown as (
    packet: PublishPacket,
    client: Client | null,
    done: (error?: Error | null) => void,
  ) => void;
  (aedes as unknown as { publish: typeof publishFirst }).publish = (packet, client, done) => {
    if (!publishedBeforeAck.delete(packet)) return publishFirst(packet, client, done);
    // Aedes' own calls pass the client; ours pass only a callback.
    (typeof client === 'function' ? (client as typeof done) : done)?.(null);
  };

  // MQTT 3.1.1 cannot refuse one QoS 2 PUBLISH but by closing the connection. Devices send QoS 0/1 only;
  // accounts are held to a budget of QoS 2 messages awaiting PUBREL across all their sessions.
  const qos2Refusal = (client: Client, principal: Principal, messageId: number | undefined) => {
    if (principal.type === 'anonymous') return false;
    const reason =
      principal.type === 'device'
        ? 'device'
        : qos2.admit(accountOf(principal), client.id, messageId ?? 0)
          ? null
          : 'account-held';
    if (!reason) return false;
    metrics.qos2Refusals.inc({ reason });
    log.warn({ clientId: client.id, reason }, 'QoS 2 publish refused; client disconnected');
    return true;
  };
  const incoming = (aedes as unknown as { persistence: unknown }).persistence as {
    incomingStorePacket(client: Client, packet: PublishPacket): Promise<void>;
    incomingDelPacket(client: Client, packet: PublishPacket): Promise<void>;
    cleanIncoming?(client: Client): Promise<void>;
  };
  const { incomingStorePacket, incomingDelPacket, cleanIncoming } = incoming;
  incoming.incomingStorePacket = async (client, packet) => {
    await incomingStorePacket.call(incoming, client, packet);
    qos2.stored(client.id, packet.messageId ?? 0);
  };
  incoming.incomingDelPacket = async (client, packet) => {
    await incomingDelPacket.call(incoming, client, packet);
    qos2.released(client.id, packet.messageId ?? 0);
  };
  if (cleanIncoming) {
    incoming.cleanIncoming = async (client) => {
      await cleanIncoming.call(incoming, client);
      qos2.released(client.id, 'all');
    };
  }

  // A will is composed at connect time; the status it announces is the moment of loss, with the fields
  // (fw, battery) the device put in it.
  const refreshStatusWill = (packet: PublishPacket) => {
    const where = parseTopic(packet.topic);
    if (where && (where.kind === 'device' || where.kind === 'gateway') && where.channel === 'status') {
      packet.payload = offlineStatusFrom(packet.payload as Buffer);
    }
  };
  aedes.authorizePublish = (client, packet, callback) => {
    if (!client) {
      // A will of a client that lived on another (dead) cluster node: checked by the ACL when it connected.
      refreshStatusWill(packet);
      return callback(null);
    }
    const session = sessions.get(client);
    if (!session) return callback(new Error('not authenticated'));
    const isWill = packet === (client as unknown as { will: PublishPacket | null }).will;
    if (isWill) {
      // A connection taken over by the same device's new one [MQTT-3.1.4-2] is no loss: its "offline"
      // could land after the new connection's "online" and leave the device marked gone.
      if (latestLogin.get(client.id) !== client) return callback(new Error('superseded by a new connection'));
      refreshStatusWill(packet);
    } else if (session.principal.type !== 'service' && !session.bucket.take()) {
      metrics.limitDisconnects.inc({ limit: 'publish-rate' });
      log.warn(
        { clientId: client.id, rate: config.limits.publishRate },
        'client disconnected: publish rate limit',
      );
      return callback(new Error('publish rate limit exceeded'));
    }
    if (!mayWrite(session.principal, client.id, packet.topic)) {
      metrics.aclRefusals.inc({ action: 'publish' });
      log.warn(
        { clientId: client.id, topic: packet.topic.slice(0, 200) },
        'publish refused by ACL; client disconnected',
      );
      return callback(new Error('publish not authorised'));
    }
    if (!isWill && packet.qos === 2 && qos2Refusal(client, session.principal, packet.messageId)) {
      return callback(new Error('QoS 2 publish refused'));
    }
    messagesIn[packet.qos]?.inc();
    metrics.bytesIn.inc(packet.payload.length);
    if (packet.qos !== 1 || isWill || packet.retain) return callback(null);
    publishFirst(packet, client, (error) => {
      if (error) return callback(error);
      publishedBeforeAck.add(packet);
      callback(null);
    });
  };

  aedes.authorizeSubscribe = (client, subscription, callback) => {
    const session = sessions.get(client);
    if (session && mayRead(session.principal, client.id, subscription.topic))
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
    if (session && mayRead(session.principal, client.id, packet.topic)) return packet;
    metrics.forwardRefusals.inc();
    return null;
  };

  aedes.on('clientReady', (client) => {
    if (restartedSessions.has(client)) client.clean = false;
    metrics.clients.set(aedes.connectedClients);
    const session = sessions.get(client);
    if (session?.brokerStatus) {
      aedes.publish({ ...session.brokerStatus, payload: statusPayload('online') } as PublishPacket, () => {});
    }
  });
  aedes.on('clientDisconnect', (client) => {
    metrics.clients.set(aedes.connectedClients);
    const superseded = latestLogin.get(client.id) !== client;
    if (!superseded) latestLogin.delete(client.id);
    // A clean DISCONNECT discards the will [MQTT-3.1.2-10], which would leave the device "online" in its
    // retained status for good; and a will on another topic announces nothing. The broker announced the
    // device, so it announces the leave.
    const session = sessions.get(client);
    const clean = (client as unknown as { _disconnected?: boolean })._disconnected === true;
    if (session?.brokerStatus && !superseded && (clean || session.offlineBesideWill)) {
      aedes.publish(
        { ...session.brokerStatus, payload: statusPayload('offline') } as PublishPacket,
        () => {},
      );
    }
  });
  aedes.on('clientError', (client, error) => {
    if (error.message.startsWith('maxInflightInbound exceeded')) {
      metrics.qos2Refusals.inc({ reason: 'client-inflight' });
      log.warn(
        { clientId: client.id },
        'QoS 2 publish refused: too many awaiting PUBREL; client disconnected',
      );
    } else log.debug({ clientId: client.id, err: error.message }, 'client error');
  });
  aedes.on('connectionError', (client, error) =>
    log.debug({ clientId: client.id, err: error.message }, 'connection error'),
  );

  // Aedes keeps its emitter's queue internal; the overload guard reads it.
  const guard = new OverloadGuard((aedes as unknown as { mq: EmitterLoad }).mq, {
    highBytes: config.limits.backlogHighBytes,
    lowBytes: config.limits.backlogLowBytes,
    concurrency: EMITTER_CONCURRENCY,
  });
  guard.onMeasure(({ backlog }) => metrics.backlogBytes.set(backlog));
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
    if (session && connection && isTelemetryPublisher(session.principal))
      guard.watchTelemetryPublisher(connection);
  });

  const listeners = await openListeners(config, connections.accept);
  const running: RunningBroker = {
    mqttUrl: listeners.mqttUrl,
    ...(listeners.tlsUrl ? { tlsUrl: listeners.tlsUrl } : {}),
    ...(listeners.wsUrl ? { wsUrl: listeners.wsUrl } : {}),
    aedes,
    metrics,
    ops: {
      service: 'broker',
      registries: [metrics.registry],
      checks: {
        mqtt: () => unless(!aedes.closed, 'the broker is closing'),
        ...store.checks,
      },
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
    },
    'broker listening',
  );

  running.close = async () => {
    guard.stop();
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

import type { Aedes, Client } from 'aedes';
import type { Logger } from '../lib/logger.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import type { Principal } from './acl.ts';
import { AccountConnections, AddressGate, accountOf } from './account-limits.ts';
import { Authenticator, FailureThrottle } from './auth.ts';
import type { ClientConnections } from './client-connections.ts';
import type { ClientSessions } from './client-sessions.ts';
import type { BrokerConfig } from './config.ts';
import { clientIdRefusal } from './identity.ts';
import type { BrokerMetrics } from './metrics.ts';
import { TokenBucket } from './packet-guard.ts';
import type { Qos2Limits } from './qos2-limits.ts';
import type { SessionOwnership } from './session-ownership.ts';
import type { StatusAnnouncer } from './status-announcer.ts';

export interface AuthenticateDeps {
  config: Pick<BrokerConfig, 'allowAnonymous' | 'accounts' | 'limits'>;
  fleet: () => FleetIndex | undefined;
  sessions: ClientSessions;
  connections: ClientConnections;
  ownership: SessionOwnership;
  statuses: StatusAnnouncer;
  qos2: Qos2Limits;
  metrics: BrokerMetrics;
  log: Logger;
}

/** A login refused with this CONNACK return code. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly returnCode: 2 | 3 | 4 | 5,
  ) {
    super(message);
  }
}

class AddressBusy extends Error {}

/**
 * Aedes' preConnect and authenticate: who may connect (connection limit, password with back-off and a gate
 * per address, client id bound to the login, per-account limits), and the session a login opens.
 */
export function installAuthentication(aedes: Aedes, deps: AuthenticateDeps): void {
  const { config, sessions, connections, metrics, log } = deps;
  const { limits } = config;
  const auth = new Authenticator(deps.fleet, config.accounts);
  const throttle = new FailureThrottle(limits.authFailuresBeforeDelay, limits.authFailureDelayMs);
  const gate = new AddressGate(limits.loginChecksPerAddress, limits.loginQueuePerAddress);
  const accountConnections = new AccountConnections<Client>(
    limits.connectionsPerAccount,
    limits.connectRatePerAccount,
    limits.connectBurstPerAccount,
  );
  const addressOf = (client: Client) =>
    (client.conn as unknown as { remoteAddress?: string }).remoteAddress ?? 'unknown';

  aedes.preConnect = (client, packet, callback) => {
    sessions.connecting(client, packet);
    callback(null, true);
  };

  /** The principal `username` logs in as, or a Refusal. */
  const admit = async (client: Client, username: string | undefined, password: Buffer | undefined) => {
    const connect = sessions.connectOf(client);
    // [MQTT-3.1.3-8]: a zero-byte client id with CleanSession 0 gets CONNACK 2. Aedes invents an id before
    // authenticate runs, so the CONNECT, as preConnect saw it, tells.
    if (connect && !connect.clientId && connect.clean === false) throw new Refusal('identifier rejected', 2);
    const address = addressOf(client);
    if (aedes.connectedClients >= limits.maxConnections) {
      // Checked before the password: a full broker spends no scrypt, and says so with CONNACK 3.
      metrics.limitDisconnects.inc({ limit: 'connections' });
      log.warn({ address, max: limits.maxConnections }, 'connection refused: at maximum connections');
      throw new Refusal('maximum connections reached', 3);
    }
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
    const result = config.allowAnonymous
      ? ({ ok: true, principal: { type: 'anonymous' } } as const)
      : await auth.check(username, password, expensive);
    if (!result.ok) {
      throttle.failed(failureKey);
      metrics.authFailures.inc({ reason: result.reason });
      log.warn({ clientId: client.id, username, address, reason: result.reason }, 'login refused');
      throw new Refusal(result.reason, result.returnCode);
    }
    throttle.succeeded(failureKey);
    const { principal } = result;
    const refusal = clientIdRefusal(principal, connect?.clientId ?? client.id, (name) => auth.isName(name));
    if (refusal) {
      metrics.clientIdRefusals.inc({ reason: refusal });
      log.warn({ clientId: client.id, username, address, reason: refusal }, 'login refused: client id');
      throw new Refusal(refusal, 2);
    }
    if (principal.type !== 'anonymous') admitAccount(client, principal, address);
    return principal;
  };

  const admitAccount = (client: Client, principal: Principal, address: string) => {
    const account = accountOf(principal);
    const limit = accountConnections.admit(account, client, sessions.latest(client.id));
    if (limit) {
      metrics.accountLimitRefusals.inc({ limit });
      log.warn({ clientId: client.id, account, address, limit }, 'login refused: account limit');
      throw new Refusal(`account ${limit} limit`, 3);
    }
    const connection = connections.live(client);
    if (!connection) return accountConnections.closed(account, client);
    connection.once('close', () => accountConnections.closed(account, client));
    deps.qos2.opened(client, connection);
  };

  aedes.authenticate = (client, username, password, callback) => {
    const login = async () => {
      const principal = await admit(client, username, password);
      await deps.ownership.claim(client, sessions.connectOf(client), principal);
      deps.statuses.loggedIn(client, principal);
      sessions.opened(client, {
        principal,
        bucket: new TokenBucket(limits.publishRate, limits.publishBurst),
      });
    };
    login()
      .then(() => callback(null, true))
      .catch((error: unknown) => {
        if (error instanceof Refusal) return callback(error, false);
        if (error instanceof AddressBusy) {
          metrics.loginRefusals.inc();
          log.warn(
            { clientId: client.id, username, address: addressOf(client) },
            'login refused: too many from this address',
          );
          return callback(new Refusal('address busy', 3), false);
        }
        log.error({ err: error, clientId: client.id }, 'authentication failed unexpectedly');
        callback(new Refusal('server unavailable', 3), false);
      });
  };
}

import { z } from 'zod';
import { type ConfigSources, envBoolean, loadConfig, portSchema } from '../protocol/config.ts';
import { idSchema } from '../protocol/ids.ts';
import { passwordHashSchema } from '../protocol/fleet.ts';
import { LIMITS } from '../protocol/payloads.ts';

export const SERVICE_ROLES = ['ingest', 'rules', 'caregiver', 'supervisor', 'simulator'] as const;

/** A non-device account: the pipeline's own services and the people's apps, each with an ACL role. */
export const serviceAccountSchema = z
  .object({
    username: z.string().min(1).max(128),
    passwordHash: passwordHashSchema,
    role: z.enum(SERVICE_ROLES),
    /** A caregiver account sees one centre; the other roles see all. */
    center: idSchema.optional(),
  })
  .refine((a) => a.role !== 'caregiver' || a.center !== undefined, {
    message: 'a caregiver account needs a center',
    path: ['center'],
  });
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

const positiveInt = z.coerce.number().int().positive();

export const brokerConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /**
     * This broker's name where it speaks of itself (`cw/v1/$broker/{id}/hold`); brokers sharing one Redis
     * need different ones. Absent = derived from the host name and MQTT port.
     */
    id: idSchema.optional(),
    /** MQTT over TCP; 0 picks a free port. */
    port: portSchema.default(1883),
    /** MQTT over TLS, only when tls.cert and tls.key are set. */
    tlsPort: portSchema.default(8883),
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    /** MQTT over WebSocket at /mqtt; absent = off. */
    wsPort: portSchema.optional(),
    /** /healthz and /metrics; absent = off. */
    httpPort: portSchema.optional(),
    fleetFile: z.string().min(1).optional(),
    accounts: z.array(serviceAccountSchema).default([]),
    allowAnonymous: envBoolean.default(false),
    /**
     * Where a private redis-server keeps sessions and retained messages, so QoS 1 queues survive a broker
     * kill -9; absent (and no redis) = in memory.
     */
    dataDir: z.string().min(1).optional(),
    /** An operator's ACL file (mosquitto acl_file syntax), applied after the registry's rules. */
    aclFile: z.string().min(1).optional(),
    /** Redis URL: persistence and pub/sub shared by several broker processes. */
    redis: z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis://host:port')
      .optional(),
    limits: z
      .object({
        /** Whole MQTT packet, header included; a larger one closes the connection before it is buffered. */
        maxPacketBytes: positiveInt.default(LIMITS.maxMessageBytes + 1024),
        maxConnections: positiveInt.default(20_000),
        /** Token bucket per client: sustained publishes per second, and the burst above it. */
        publishRate: positiveInt.default(50),
        publishBurst: positiveInt.default(200),
        /** Failed logins of one username from one address before each further attempt waits. */
        authFailuresBeforeDelay: positiveInt.default(5),
        authFailureDelayMs: positiveInt.default(1_000),
        /**
         * Password checks (scrypt) one address runs at once, and how many more wait before it is refused. The
         * queue is deep on purpose: a centre's whole fleet sits behind one NAT address and reconnects at once
         * after a Wi-Fi outage; it waits its turn, it is not refused.
         */
        loginChecksPerAddress: positiveInt.default(2),
        loginQueuePerAddress: positiveInt.default(5_000),
        /** Connections one account (a device id or a username) holds open at once. */
        connectionsPerAccount: positiveInt.default(16),
        /** New connections per second one account may open, and the burst above it. */
        connectRatePerAccount: positiveInt.default(5),
        connectBurstPerAccount: positiveInt.default(20),
        /**
         * QoS 2 messages awaiting PUBREL, per connection and per account across its sessions (devices may not
         * publish QoS 2 at all).
         */
        qos2InflightPerClient: positiveInt.default(32),
        qos2HeldPerAccount: positiveInt.default(256),
        /**
         * Bytes queued on subscriber sockets that make the broker stop reading from telemetry publishers
         * (alarm buttons and services are never paused), and the level at which it reads again.
         */
        backlogHighBytes: positiveInt.default(64 * 1024 * 1024),
        backlogLowBytes: positiveInt.default(16 * 1024 * 1024),
      })
      .prefault({}),
  })
  .refine((c) => !(c.redis && c.dataDir), {
    message: 'give redis (a cluster sharing one Redis) or dataDir (one broker), not both',
    path: ['dataDir'],
  });
export type BrokerConfig = z.infer<typeof brokerConfigSchema>;

export const BROKER_ENV: Record<string, string> = {
  CW_BROKER_HOST: 'host',
  CW_BROKER_PORT: 'port',
  CW_BROKER_TLS_PORT: 'tlsPort',
  CW_BROKER_WS_PORT: 'wsPort',
  CW_BROKER_HTTP_PORT: 'httpPort',
  CW_BROKER_TLS_CERT: 'tls.cert',
  CW_BROKER_TLS_KEY: 'tls.key',
  CW_FLEET_FILE: 'fleetFile',
  CW_BROKER_ALLOW_ANONYMOUS: 'allowAnonymous',
  CW_BROKER_REDIS: 'redis',
  CW_BROKER_DATA_DIR: 'dataDir',
  CW_BROKER_ACL_FILE: 'aclFile',
  CW_BROKER_MAX_CONNECTIONS: 'limits.maxConnections',
  CW_BROKER_PUBLISH_RATE: 'limits.publishRate',
};

/** `cradlewatch broker` flags: commander's attribute → config path. */
export const BROKER_FLAGS: Record<string, string> = {
  fleet: 'fleetFile',
  host: 'host',
  port: 'port',
  tlsPort: 'tlsPort',
  wsPort: 'wsPort',
  httpPort: 'httpPort',
  redis: 'redis',
  allowAnonymous: 'allowAnonymous',
  dataDir: 'dataDir',
  aclFile: 'aclFile',
};

export function loadBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  return loadConfig(brokerConfigSchema, {
    ...sources,
    envMap: { ...BROKER_ENV, ...sources.envMap },
    flagMap: { ...BROKER_FLAGS, ...sources.flagMap },
  });
}

import { z } from 'zod';
import { type ConfigSources, FLEET_FILE_SETTING, envBoolean, portSchema } from '../protocol/config.ts';
import { type Setting, loadSettings } from '../protocol/settings.ts';
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
     * kill -9. Absent (and no redis) = in memory here; `cradlewatch broker` fills in DEFAULT_BROKER_DATA_DIR
     * (loadBrokerConfig), so only a program embedding the broker gets memory by leaving it out.
     */
    dataDir: z.string().min(1).optional(),
    /**
     * The operator's opt-out of the command's default dataDir: sessions in memory, so a broker restart or
     * kill -9 loses every queued QoS 1 message its PUBACKs promised (tests, throwaway runs).
     */
    memorySessions: envBoolean.default(false),
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
  })
  .refine((c) => !(c.memorySessions && (c.redis || c.dataDir)), {
    message: 'sessions go in memory, redis or dataDir: give one of them',
    path: ['memorySessions'],
  });
export type BrokerConfig = z.infer<typeof brokerConfigSchema>;

/** Where `cradlewatch broker` keeps sessions unless told redis or memorySessions: beside ./data/influxdb. */
export const DEFAULT_BROKER_DATA_DIR = './data/broker';

/**
 * The operator's broker: durable sessions unless asked otherwise. With sessions in memory a broker kill -9
 * loses acknowledged readings (1,440 and 7,680 in the field): those queued for ingest at the kill, and those
 * acknowledged after the restart before ingest has subscribed again, which no session is there to keep.
 * `startBroker` itself keeps memory when dataDir is absent: a program (a test) chooses its own directories,
 * and a library call should not start a redis-server in whatever directory it runs from.
 */
const operatorBrokerConfigSchema = brokerConfigSchema.transform((c) =>
  c.redis || c.dataDir || c.memorySessions ? c : { ...c, dataDir: DEFAULT_BROKER_DATA_DIR },
);

/** The opt-out as `cradlewatch broker` and `cradlewatch up` take it (each with its own env var). */
export const MEMORY_SESSIONS_SETTING = {
  path: 'memorySessions',
  flag: '--memory-sessions',
  help: 'keep MQTT sessions in memory: a broker restart or kill -9 loses every queued QoS 1 message',
} as const satisfies Setting;

/** What `cradlewatch broker` takes from env and flags, beside the file (accounts, the other limits). */
export const BROKER_SETTINGS: Setting[] = [
  { path: 'host', env: 'CW_BROKER_HOST', flag: '--host <host>', help: 'address to bind' },
  { path: 'port', env: 'CW_BROKER_PORT', flag: '--port <port>', help: 'MQTT over TCP; 0 = a free port' },
  {
    path: 'tlsPort',
    env: 'CW_BROKER_TLS_PORT',
    flag: '--tls-port <port>',
    help: 'MQTT over TLS, when tls.cert and tls.key are set',
  },
  { path: 'tls.cert', env: 'CW_BROKER_TLS_CERT', help: 'TLS certificate file (PEM)' },
  { path: 'tls.key', env: 'CW_BROKER_TLS_KEY', help: 'its private key (PEM)' },
  {
    path: 'wsPort',
    env: 'CW_BROKER_WS_PORT',
    flag: '--ws-port <port>',
    help: 'MQTT over WebSocket at /mqtt; off when absent',
  },
  {
    path: 'httpPort',
    env: 'CW_BROKER_HTTP_PORT',
    flag: '--http-port <port>',
    help: '/healthz and /metrics; off when absent',
  },
  FLEET_FILE_SETTING,
  {
    path: 'allowAnonymous',
    env: 'CW_BROKER_ALLOW_ANONYMOUS',
    flag: '--allow-anonymous',
    help: 'development only: no authentication, every topic open',
  },
  {
    path: 'redis',
    env: 'CW_BROKER_REDIS',
    flag: '--redis <url>',
    help: 'Redis for shared persistence and pub/sub (cluster of brokers)',
  },
  {
    path: 'dataDir',
    env: 'CW_BROKER_DATA_DIR',
    flag: '--data-dir <dir>',
    help: 'keep sessions and retained messages on disk there, in a private redis-server (none with redis or memorySessions)',
    defaultText: DEFAULT_BROKER_DATA_DIR,
  },
  { ...MEMORY_SESSIONS_SETTING, env: 'CW_BROKER_MEMORY_SESSIONS' },
  {
    path: 'aclFile',
    env: 'CW_BROKER_ACL_FILE',
    flag: '--acl-file <file>',
    help: "operator ACL (mosquitto acl_file syntax) applied after the registry's",
  },
  { path: 'limits.maxConnections', env: 'CW_BROKER_MAX_CONNECTIONS', help: 'open connections in all' },
  {
    path: 'limits.publishRate',
    env: 'CW_BROKER_PUBLISH_RATE',
    help: 'sustained publishes per second of a device',
  },
];

export function loadBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  return loadSettings(operatorBrokerConfigSchema, BROKER_SETTINGS, sources);
}

import { z } from 'zod';
import {
  type ConfigSources,
  FLEET_FILE_SETTING,
  clockSkewSchema,
  clockSkewSetting,
  envBoolean,
  mqttClientConfigSchema,
  mqttSettings,
  portSchema,
} from '../protocol/config.ts';
import {
  centerSelectionFields,
  centerSelectionSettings,
  selectionRefinement,
} from '../protocol/partition.ts';
import { LIMITS } from '../protocol/payloads.ts';
import { type Setting, loadSettings } from '../protocol/settings.ts';
import { INFLUX_SETTINGS, defaultApiV2, influxConnectionSchema } from '../lib/influx/connection.ts';

const positiveInt = z.coerce.number().int().positive();

export const ingestConfigSchema = z
  .object({
    mqtt: mqttClientConfigSchema('cradlewatch-ingest')
      .extend({
        reconnectMinMs: positiveInt.default(250),
        reconnectMaxMs: positiveInt.default(30_000),
      })
      .prefault({}),
    /** docs/design.md makes v2 the default API; `v1` is for InfluxDB before 1.8. */
    influx: z.preprocess((value) => defaultApiV2(value ?? {}), influxConnectionSchema),
    /**
     * Make the database (v1) or bucket (v2) when writes find it missing, where the credentials allow;
     * otherwise ingest spools and its log and /healthz say how to make it.
     */
    createDatabase: envBoolean.default(true),
    fleetFile: z.string().min(1).optional(),
    ...centerSelectionFields,
    maxClockSkewMs: clockSkewSchema.default(LIMITS.defaultMaxClockSkewMs),
    batch: z
      .object({
        /** Points per InfluxDB write. */
        size: positiveInt.default(5_000),
        /** A partial batch is flushed after this long. */
        intervalMs: positiveInt.default(100),
        /** A batch holding unacknowledged messages is sealed after this long without a new one. */
        idleMs: positiveInt.default(5),
        /** Messages awaiting PUBACK that seal the batch early, so a broker's in-flight window never stalls us. */
        maxUnacked: positiveInt.default(1_000),
        /** Sealed batches waiting for a write before ingest stops reading from the broker. */
        maxQueued: positiveInt.default(8),
      })
      .prefault({}),
    write: z
      .object({
        maxRetries: z.coerce.number().int().min(0).default(3),
        minRetryDelayMs: positiveInt.default(200),
        maxRetryDelayMs: positiveInt.default(5_000),
      })
      .prefault({}),
    spool: z
      .object({
        dir: z.string().min(1).default('./data/ingest/spool'),
        maxBytes: positiveInt.default(512 * 1024 * 1024),
        /** Defaults to an eighth of maxBytes, at most 8 MiB, so a small budget still drains in pieces. */
        segmentBytes: positiveInt.optional(),
      })
      .prefault({})
      .transform((spool) => ({
        ...spool,
        segmentBytes:
          spool.segmentBytes ?? Math.min(8 * 1024 * 1024, Math.max(4_096, Math.floor(spool.maxBytes / 8))),
      })),
    deadletter: z
      .object({
        dir: z.string().min(1).default('./data/ingest/deadletter'),
        maxFileBytes: positiveInt.default(16 * 1024 * 1024),
        keepFiles: positiveInt.default(5),
        /**
         * One record at most, in the file and on MQTT (a longer payload is cut, its whole kept under
         * payloads/): within the broker's packet limit, which closes a connection sending more.
         */
        maxRecordBytes: positiveInt.max(LIMITS.maxMessageBytes).default(4_096),
        /** Original payloads of dead letters kept under payloads/, oldest dropped first. */
        maxPayloadBytes: positiveInt.default(64 * 1024 * 1024),
        /** Also publish each record to cw/v1/deadletter/{center}/{device}. */
        publish: z.boolean().default(true),
      })
      .prefault({}),
    http: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: portSchema.default(9464),
      })
      .prefault({}),
    /** How often ingest writes its own `pipeline` point. */
    metricsIntervalMs: positiveInt.default(10_000),
    /** Recent (seq, ts) pairs remembered per device to refuse repeats as `duplicate`. */
    dedupWindow: z.coerce.number().int().min(0).default(512),
    /** The `instance` tag of this process's `pipeline` points. */
    instance: z.string().min(1).optional(),
  })
  .refine(...selectionRefinement)
  .refine((c) => c.spool.segmentBytes <= c.spool.maxBytes, {
    message: 'must not exceed spool.maxBytes',
    path: ['spool', 'segmentBytes'],
  });

export type IngestConfig = z.infer<typeof ingestConfigSchema>;

/** What `cradlewatch ingest` takes from env and flags, beside the file. */
export const INGEST_SETTINGS: Setting[] = [
  ...INFLUX_SETTINGS,
  {
    path: 'createDatabase',
    env: 'CW_INGEST_CREATE_DATABASE',
    help: 'make the database or bucket when writes find it missing',
  },
  ...mqttSettings('CW_INGEST'),
  FLEET_FILE_SETTING,
  ...centerSelectionSettings('CW_INGEST'),
  clockSkewSetting('CW_INGEST'),
  {
    path: 'batch.size',
    env: 'CW_INGEST_BATCH_SIZE',
    flag: '--batch-size <points>',
    help: 'points per InfluxDB write',
  },
  {
    path: 'batch.intervalMs',
    env: 'CW_INGEST_FLUSH_INTERVAL_MS',
    flag: '--flush-interval <ms>',
    help: 'flush a partial batch after this long',
  },
  {
    path: 'batch.idleMs',
    env: 'CW_INGEST_FLUSH_IDLE_MS',
    flag: '--flush-idle <ms>',
    help: 'flush a batch with unacknowledged messages after this long without a new one',
  },
  { path: 'spool.dir', env: 'CW_INGEST_SPOOL_DIR', flag: '--spool-dir <dir>', help: 'disk spool directory' },
  {
    path: 'spool.maxBytes',
    env: 'CW_INGEST_SPOOL_MAX_BYTES',
    flag: '--spool-max-bytes <bytes>',
    help: 'disk spool budget',
  },
  {
    path: 'deadletter.dir',
    env: 'CW_INGEST_DEADLETTER_DIR',
    flag: '--deadletter-dir <dir>',
    help: 'where the dead-letter JSONL files go',
  },
  { path: 'http.host', env: 'CW_INGEST_HTTP_HOST', help: 'listen address of /metrics and /healthz' },
  {
    path: 'http.port',
    env: 'CW_INGEST_HTTP_PORT',
    flag: '--http-port <port>',
    help: 'port of /metrics and /healthz, 0 for any free one',
  },
];

export function loadIngestConfig(sources: ConfigSources = {}): IngestConfig {
  return loadSettings(ingestConfigSchema, INGEST_SETTINGS, sources);
}

import { hostname } from 'node:os';
import Fastify from 'fastify';
import { FleetWatcher } from '../lib/fleet-file.ts';
import { componentLogger, type Logger } from '../lib/logger.ts';
import { type OpsSource, passing, registerOpsRoutes, unless } from '../lib/ops/index.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import { filters } from '../protocol/topics.ts';
import { ConfigError } from '../protocol/config.ts';
import { REASONS } from '../protocol/reasons.ts';
import { Point } from '@influxdata/influxdb-client';
import { createStore, probeWrite } from '../lib/influx/faults.ts';
import type { IngestConfig } from './config.ts';
import { DeadLetterFile, deadLetterRecord, deadLetterTopic } from './deadletter.ts';
import { InfluxSink } from './influx-sink.ts';
import { IngestMetrics, type IngestStats } from './metrics.ts';
import { connectIngestMqtt, type IngestMqtt } from './mqtt-client.ts';
import { selectCenters } from '../protocol/partition.ts';
import { Pipeline } from './pipeline.ts';
import { Spool } from './spool.ts';
import { type Refused, SeqWindow, transform } from './transform.ts';

export interface IngestOptions {
  /** An in-memory registry (for `cradlewatch up`) instead of config.fleetFile. */
  fleet?: FleetIndex;
}

export interface Ingest {
  close(): Promise<void>;
  stats(): IngestStats;
  /** The centres this process subscribed to. */
  centers(): string[];
  /** Where /metrics and /healthz listen, when enabled. */
  httpUrl: string | undefined;
  /** Its metrics and health checks, for its own /healthz + /metrics or a shared one (`cradlewatch up`). */
  ops: OpsSource;
  /** Seals the open batch and resolves when everything received so far is durable. */
  flush(): Promise<void>;
}

function subscriptionsFor(centers: string[]): string[] {
  return centers.flatMap((c) => [...filters.telemetry(c), ...filters.deviceEvents(c)]);
}

/**
 * Broker → validation → InfluxDB (or the disk spool), with dead letters for whatever is refused. The spool
 * left by a previous run is drained before the MQTT session resumes, when InfluxDB answers.
 */
export async function startIngest(
  config: IngestConfig,
  log: Logger,
  options: IngestOptions = {},
): Promise<Ingest> {
  const watcher = options.fleet
    ? undefined
    : config.fleetFile
      ? new FleetWatcher(config.fleetFile, log).start()
      : undefined;
  if (!options.fleet && !watcher)
    throw new ConfigError('invalid config:\n  fleetFile (env CW_FLEET_FILE): required');
  let fleet = options.fleet ?? watcher!.current;
  let centers = selectCenters(fleet, config);
  const instance = config.instance ?? `${hostname()}-${config.mqtt.clientId}`;
  const window = new SeqWindow(config.dedupWindow);
  const spool = Spool.open(config.spool);
  const deadLetters = new DeadLetterFile(config.deadletter);
  const influx = new InfluxSink(config.influx, {
    batchSize: config.batch.size,
    maxRetries: config.write.maxRetries,
    minRetryDelayMs: config.write.minRetryDelayMs,
    maxRetryDelayMs: config.write.maxRetryDelayMs,
    log: componentLogger(log, 'influxdb-client'),
  });
  let mqttClient: IngestMqtt | undefined;
  const metrics = new IngestMetrics(() => ({
    spoolBytes: spool.bytes,
    influxUp: pipeline.influxUp,
    pendingAcks: mqttClient?.pendingAcks ?? 0,
    queuedBatches: pipeline.queued,
  }));

  const deadLetter = (topic: string, refused: Refused) => {
    const record = deadLetterRecord({ topic, ...refused }, config.deadletter.maxRecordBytes);
    deadLetters.append(record, refused.payload);
    metrics.invalid(refused.reason);
    if (config.deadletter.publish) mqttClient?.publish(deadLetterTopic(record), JSON.stringify(record));
  };
  const makeStore = config.createDatabase ? () => createStore(config.influx) : undefined;

  const pipeline: Pipeline = new Pipeline({
    batchSize: config.batch.size,
    intervalMs: config.batch.intervalMs,
    idleMs: config.batch.idleMs,
    maxUnacked: config.batch.maxUnacked,
    maxQueued: config.batch.maxQueued,
    retryMinMs: config.write.minRetryDelayMs,
    retryMaxMs: config.write.maxRetryDelayMs,
    influx,
    probeInflux: () => probeWrite(config.influx),
    ...(makeStore ? { createStore: makeStore } : {}),
    spool,
    metrics,
    syncDeadLetters: () => deadLetters.sync(),
    rejected: (line, detail, origin) =>
      deadLetter(origin?.topic ?? 'spool', {
        reason: 'influx-rejected',
        detail: `${detail} (line: ${line.slice(0, 200)})`,
        payload: origin?.payload ?? Buffer.from(line),
        center: origin?.center,
        device: origin?.device,
      }),
    log: componentLogger(log, 'pipeline'),
  });

  await pipeline.checkStore();
  if (!spool.isEmpty) {
    log.info({ spoolBytes: spool.bytes }, 'draining the spool left by the previous run');
    if (!(await pipeline.drainOnce()))
      log.warn({ spoolBytes: spool.bytes }, 'InfluxDB unreachable: the spool waits');
  }
  pipeline.start();

  const onMessage = (topic: string, payload: Buffer, ack: { release(): void }, next: () => void) => {
    metrics.received();
    try {
      const out = transform(topic, payload, fleet, window, { maxSkewMs: config.maxClockSkewMs });
      for (const refused of out.refused) deadLetter(topic, refused);
      pipeline.add(out.lines, out.times, ack, { topic, payload, ...out.origin });
    } catch (error) {
      // transform refuses device input by value; reaching here is a bug, which must not stop the service.
      log.error({ err: error, topic }, 'message could not be processed');
      deadLetter(topic, {
        reason: 'schema',
        detail: `ingest could not process it: ${(error as Error).message}`,
        payload,
      });
      pipeline.add([], [], ack);
    }
    if (pipeline.blocked) pipeline.whenUnblocked().then(next);
    else next();
  };

  mqttClient = connectIngestMqtt(
    {
      ...config.mqtt,
      subscriptions: subscriptionsFor(centers),
      onMessage,
      onConnect: () => metrics.connected(),
      maxPublishBytes: config.deadletter.maxRecordBytes,
    },
    componentLogger(log, 'mqtt'),
  );
  log.info({ centers, clientId: config.mqtt.clientId, batch: config.batch }, 'ingest subscribing');

  watcher?.onChange((next) => {
    fleet = next;
    const wanted = selectCenters(next, config);
    const added = wanted.filter((c) => !centers.includes(c));
    centers = [...new Set([...centers, ...wanted])];
    if (added.length > 0) void mqttClient!.subscriptions.add(subscriptionsFor(added));
  });

  const pipelinePoint = () => {
    const s = metrics.snapshot();
    const point = new Point('pipeline')
      .tag('service', 'ingest')
      .tag('instance', instance)
      .intField('received', s.received)
      .intField('written', s.written)
      .intField('invalid', s.invalidTotal)
      .intField('spooled', s.spooled)
      .intField('spool_bytes', s.spoolBytes)
      .intField('lag_ms', s.lagMs)
      .timestamp(Date.now());
    // One field per reason, so a dashboard can chart refusals by kind without a tag per reason. Every
    // reason, zeros too: a rate needs the counter in the bucket before its first refusal.
    for (const reason of REASONS) point.intField(`invalid_${reason}`, s.invalid[reason] ?? 0);
    pipeline.add([point.toLineProtocol()!], [Date.now()], undefined);
  };
  const pipelineTimer = setInterval(pipelinePoint, config.metricsIntervalMs);
  pipelineTimer.unref();

  const ops: OpsSource = {
    service: 'ingest',
    registries: [metrics.registry],
    // A check per thing ingest needs: any failing means readings are not reaching InfluxDB or not being
    // acknowledged, so the answer is 503 with the reason.
    checks: {
      influx: () => {
        const store = pipeline.storeFault;
        return store ? { ok: false, reason: store.reason } : passing;
      },
      mqtt: () => mqttClient!.subscriptions.health(config.mqtt.url),
      spool: () => {
        const disk = pipeline.spoolFault;
        return disk ? { ok: false, reason: disk.reason } : passing;
      },
      deadletter: () => {
        const dead = pipeline.deadLetterFault ?? deadLetters.fault;
        return dead ? { ok: false, reason: dead.reason } : passing;
      },
      backpressure: () =>
        unless(
          !pipeline.blocked,
          `${pipeline.queued} batches wait to be stored: not reading from the broker`,
        ),
    },
  };

  let httpUrl: string | undefined;
  const http = config.http.enabled ? Fastify({ logger: false }) : undefined;
  if (http) {
    registerOpsRoutes(http, [ops]);
    const address = await http.listen({ host: config.http.host, port: config.http.port });
    httpUrl = address;
    log.info({ url: address }, 'ingest metrics listening');
  }

  return {
    httpUrl,
    ops,
    centers: () => [...centers],
    stats: () => metrics.snapshot(),
    flush: () => pipeline.flush(),
    async close() {
      clearInterval(pipelineTimer);
      watcher?.close();
      // Stop taking messages first, then make everything taken durable so its PUBACKs go out;
      // whatever was not taken is redelivered.
      mqttClient!.stopTaking();
      try {
        await pipeline.close();
      } finally {
        await mqttClient!.close();
        await influx.close();
        await spool.close();
        deadLetters.close();
        await http?.close();
      }
    },
  };
}

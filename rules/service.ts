import type { AlertService, AlertTransition } from '../protocol/alerts.ts';
import { componentLogger, type Logger } from '../lib/logger.ts';
import type { OpsSource } from '../lib/ops/index.ts';
import { channelRegistry } from './channels/metrics.ts';
import type { RulesServiceConfig } from './config.ts';
import type { BoardEvent, BoardService } from './contracts.ts';
import { DeviceTimeClock } from './engine/clock.ts';
import { Engine } from './engine/engine.ts';
import { startHttp } from './http/index.ts';
import { DiskGuard } from './journal/guard.ts';
import { Journal } from './journal/journal.ts';
import { createRulesMetrics, type RulesStats } from './metrics.ts';
import { createAlertService } from './service/alert-service.ts';
import { createBoardService } from './service/board-service.ts';
import { Delivery } from './service/delivery.ts';
import { EngineLoop } from './service/engine-loop.ts';
import { mqttInputs } from './service/mqtt-inputs.ts';
import { MqttSessions } from './service/mqtt-sessions.ts';
import { NapOutputs } from './service/nap-outputs.ts';
import { OwnedFleet } from './service/owned-fleet.ts';

export type { RulesStats } from './metrics.ts';

export interface RulesOptions {
  /** Other services of this process whose health and metrics the HTTP server also answers for (`cradlewatch up`). */
  alsoServe?: OpsSource[];
}

export interface RunningRules {
  url: string;
  alerts: AlertService;
  board: BoardService;
  stats: RulesStats;
  close(): Promise<void>;
}

/**
 * The I/O shell around the engine: MQTT in, journal, channels, InfluxDB and HTTP out. Every engine step is
 * journalled (one fsync for all the steps of an event-loop turn, a group commit) before its transitions
 * reach a channel, and a delivery watermark is journalled after,
 * so a kill -9 at any point neither loses a transition nor delivers one twice. This wires the modules in
 * service/ that do each part.
 */
export async function startRules(
  config: RulesServiceConfig,
  log: Logger,
  options: RulesOptions = {},
): Promise<RunningRules> {
  const owned = new OwnedFleet(config, log);
  const fleet = () => owned.index;
  const metrics = createRulesMetrics(() => engine.openAlerts());
  // A disk that refuses (full, read-only, failing) stops nothing: alerts go out live, /healthz says so,
  // and the state is written afresh once the disk is back (rules/README.md "Durability").
  const disk = new DiskGuard(componentLogger(log, 'journal'));
  const { journal, restored } = Journal.open(config.journalDir, {
    compactBytes: config.journalCompactBytes,
    onFsync: metrics.fsynced,
    durable: { guard: disk, state: () => engine.snapshot() },
  });
  const deviceClock = config.clock.mode === 'device' ? new DeviceTimeClock(config.clock.speed) : undefined;
  const now = deviceClock ? deviceClock.now : Date.now;
  const engine = new Engine({
    fleet: fleet(),
    rules: config.rules,
    clock: now,
    deviceTime: deviceClock ? 'trusted' : 'measured',
    state: restored.state,
  });
  owned.watch((index) => engine.setFleet(index));
  log.info(
    {
      open: engine.openAlerts().length,
      seq: engine.seq,
      delivered: restored.delivered,
      ...(owned.partitioned ? { centers: owned.centers } : {}),
    },
    'rules state restored',
  );

  const sessions = await MqttSessions.open(config.mqtt, log).catch((error: unknown) => {
    disk.close();
    journal.close();
    owned.close();
    throw error;
  });
  const stats: RulesStats = { received: 0, invalid: 0, stale: 0, transitions: 0 };
  const transitionListeners = new Set<(t: AlertTransition) => void>();
  const boardListeners = new Set<(e: BoardEvent) => void>();
  const mqtt = sessions.telemetry;
  const delivery = new Delivery(config, {
    mqtt,
    fleet,
    journal,
    disk,
    transitionListeners,
    boardListeners,
    log,
  });
  // A transition journalled but not yet handed to the channels when the last process died goes out now, once.
  delivery.deliver(restored.recent.filter((t) => t.seq > restored.delivered));
  const naps = new NapOutputs(mqtt, config.influx, boardListeners);
  const loop = new EngineLoop({
    engine,
    journal,
    now,
    deviceClock,
    speed: config.clock.speed,
    deliver: (transitions) => delivery.deliver(transitions),
    naps,
    stats,
    metrics,
    log,
  });
  const alerts = createAlertService({ engine, journal, loop, now, listeners: transitionListeners });
  const board = createBoardService({ fleet, engine, loop, now, mqtt, listeners: boardListeners });
  const ops: OpsSource = {
    service: 'rules',
    registries: [metrics.registry, channelRegistry],
    checks: { mqtt: () => sessions.health(), journal: () => disk.check() },
  };

  let http: Awaited<ReturnType<typeof startHttp>>;
  try {
    const alsoServe = options.alsoServe ?? [];
    http = await startHttp(config.http, { alerts, board, fleet, log, ops: [ops, ...alsoServe] });
  } catch (error) {
    await loop.close();
    await delivery.closeChannels();
    await sessions.end(true);
    await naps.close().catch(() => undefined);
    delivery.detachJournal();
    disk.close();
    journal.close();
    owned.close();
    throw error;
  }
  loop.tick();
  const { maxClockSkewMs } = config;
  const receive = mqttInputs({ fleet, engine, loop, alerts, now, maxClockSkewMs, stats, metrics, log });
  owned.onAdded((centers) => void sessions.subscribe(centers));
  await sessions.listen(receive, () => owned.subscribed);

  let closed = false;
  return {
    url: http.url,
    alerts,
    board,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      await loop.close();
      // A last chance for state the disk refused, while the outboxes are still open to be written.
      disk.retry();
      disk.close();
      await http.close();
      await delivery.closeChannels();
      await sessions.end();
      await naps.close().catch((error: unknown) => log.warn({ err: error }, 'influx flush failed on close'));
      // The channels are closed: what they took is with their peers, or never will be.
      delivery.markAllDelivered();
      journal.compact(engine.snapshot());
      journal.close();
      owned.close();
    },
  };
}

import { Point, type WriteApi } from '@influxdata/influxdb-client';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { AlertChannel, AlertService, AlertTransition, CommandResult } from '../protocol/alerts.ts';
import { ConfigError } from '../protocol/config.ts';
import { checkPublisher, checkReading, type FleetIndex } from '../protocol/fleet.ts';
import { ownedFleet, selectCenters } from '../protocol/partition.ts';
import { type Message, parseMessage } from '../protocol/parse.ts';
import type { Alert } from '../protocol/payloads.ts';
import { filters, parseTopic, topics } from '../protocol/topics.ts';
import { FleetWatcher } from '../lib/fleet-file.ts';
import { createWriteApi } from '../lib/influx/writer.ts';
import { connectSession } from '../lib/mqtt-connect.ts';
import { Subscriptions } from '../lib/mqtt-subscribe.ts';
import { componentLogger, type Logger } from '../lib/logger.ts';
import { type OpsSource, passing } from '../lib/ops/index.ts';
import { createChannels } from './channels/index.ts';
import type { BoardService, NapCheckRecord, RoomBoard } from './contracts.ts';
import type { RulesServiceConfig } from './config.ts';
import { DeviceTimeClock } from './engine/clock.ts';
import { Engine, type EngineInput, type EngineOutput, type NapChange } from './engine/engine.ts';
import { localTime } from './engine/time.ts';
import { startHttp } from './http/index.ts';
import { DiskGuard } from './journal/guard.ts';
import { Journal } from './journal/journal.ts';
import { createRulesMetrics } from './metrics.ts';
import { channelRegistry } from './channels/metrics.ts';

export interface RulesStats {
  received: number;
  invalid: number;
  stale: number;
  transitions: number;
}

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

type BoardEvent = { type: 'board'; center: string } | { type: 'nap-check'; record: NapCheckRecord };

/**
 * The I/O shell around the engine: MQTT in, journal, channels, InfluxDB and HTTP out. Every engine step is
 * journalled (one fsync for all the steps of an event-loop turn, a group commit) before its transitions
 * reach a channel, and a delivery watermark is journalled after,
 * so a kill -9 at any point neither loses a transition nor delivers one twice.
 */
export async function startRules(
  config: RulesServiceConfig,
  log: Logger,
  options: RulesOptions = {},
): Promise<RunningRules> {
  const fleetWatcher = new FleetWatcher(config.fleetFile, log);
  // A partition sees only its centres: its engine watches (and its HTTP shows) nothing of another's.
  const partitioned = config.centers !== undefined || config.partition !== undefined;
  let owned = selectCenters(fleetWatcher.current, config);
  let ownFleet = ownedFleet(fleetWatcher.current, owned);
  const fleet = () => ownFleet;
  for (const center of config.rules.centers.keys()) {
    if (!fleetWatcher.current.centers.has(center)) {
      throw new ConfigError(
        `invalid config:\n  rules.centers.${center}: no such centre in ${config.fleetFile}`,
      );
    }
  }

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
  const speed = config.clock.speed;
  const engine = new Engine({
    fleet: fleet(),
    rules: config.rules,
    clock: now,
    deviceTime: deviceClock ? 'trusted' : 'measured',
    state: restored.state,
  });
  let subscribed = false;
  fleetWatcher.onChange((next) => {
    // Like ingest, a partition keeps the centres it has and takes the ones the registry now gives it.
    const added = partitioned ? selectCenters(next, config).filter((c) => !owned.includes(c)) : [];
    owned = partitioned ? [...owned, ...added] : selectCenters(next, config);
    ownFleet = ownedFleet(next, owned);
    engine.setFleet(ownFleet);
    if (subscribed && added.length > 0) void subscribe(added);
  });
  fleetWatcher.start();
  log.info(
    {
      open: engine.openAlerts().length,
      seq: engine.seq,
      delivered: restored.delivered,
      ...(partitioned ? { centers: owned } : {}),
    },
    'rules state restored',
  );

  const stats: RulesStats = { received: 0, invalid: 0, stale: 0, transitions: 0 };
  const transitionListeners = new Set<(t: AlertTransition) => void>();
  const boardListeners = new Set<(e: BoardEvent) => void>();
  const writer: WriteApi | undefined = config.influx
    ? createWriteApi(config.influx, { flushInterval: 1_000, maxRetries: 5 })
    : undefined;

  // The broker sends a session's queued QoS 1 messages right after CONNACK: hold them until ready.
  let ready = false;
  const early: [topic: string, payload: Buffer, arrivedAt: number][] = [];
  const session = (clientId: string): MqttClient => {
    const c = connectSession({ ...config.mqtt, clientId });
    c.on('message', (topic, payload) => {
      if (ready) receive(topic, payload, Date.now());
      else early.push([topic, payload, Date.now()]);
    });
    c.on('error', (error) => log.warn({ err: error, clientId }, 'mqtt error'));
    return c;
  };
  // Two sessions: telemetry, and a priority lane for what people do (alarm presses, naps, acknowledgements).
  // On one connection a press waits behind every reading already queued for the rules in the broker and the
  // socket: seconds when the machine is saturated (bench latency at 17,000 readings/s). Its own connection
  // is read as soon as it has data, whatever the telemetry backlog.
  const client = session(config.mqtt.clientId);
  const priority = session(`${config.mqtt.clientId}-priority`);
  try {
    await Promise.all(
      [client, priority].map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.once('connect', () => resolve());
            c.once('error', (error) => {
              if (!c.connected)
                reject(new Error(`cannot connect to MQTT ${config.mqtt.url}: ${error.message}`));
            });
          }),
      ),
    );
  } catch (error) {
    client.end(true);
    priority.end(true);
    disk.close();
    journal.close();
    fleetWatcher.close();
    throw error;
  }
  const telemetrySubs = new Subscriptions(client, log);
  const prioritySubs = new Subscriptions(priority, log);
  // Without a selection the wildcard also covers centres added to the registry later.
  const subscriptions = (centers: string[]) => ({
    telemetry: centers.flatMap((c) => [...filters.telemetry(c), filters.status(c)]),
    // A broker's hold is every partition's concern: it pauses whole-centre silence for all centres.
    priority: [
      filters.brokerHolds,
      ...centers.flatMap((c) => [
        filters.alarms(c),
        filters.nap(c),
        filters.alertAcks(c),
        filters.alertResolves(c),
      ]),
    ],
  });
  /** Resolves once both sessions are subscribed; through broker losses, however long that takes. */
  const subscribe = async (centers: string[]) => {
    const wanted = subscriptions(centers);
    await Promise.all([telemetrySubs.add(wanted.telemetry), prioritySubs.add(wanted.priority)]);
  };
  const channels: AlertChannel[] = createChannels(config.channels, {
    mqtt: client,
    ...(config.influx ? { influx: config.influx } : {}),
    fleet,
    log,
    // Beside the journal: a partition that moves with its journal volume takes its undelivered alerts along.
    outboxDir: join(config.journalDir, 'outbox'),
    diskGuard: disk,
  });

  /** Highest seq handed to the channels; the journal's watermark follows once they have settled. */
  let handed = 0;
  let journalOpen = true;
  /** One failing receiver (a channel, an SSE hub) must not keep a transition from the others. */
  const each = <T>(receivers: Iterable<T>, hand: (receiver: T) => void) => {
    for (const receiver of receivers) {
      try {
        hand(receiver);
      } catch (error) {
        log.error({ err: error }, 'alert delivery failed');
      }
    }
  };
  const deliver = (transitions: AlertTransition[]) => {
    if (transitions.length === 0) return;
    for (const transition of transitions) {
      each(channels, (channel) => channel.deliver(transition));
      each(transitionListeners, (listener) => listener(transition));
      each(boardListeners, (listener) => listener({ type: 'board', center: transition.alert.center }));
    }
    const seq = transitions.at(-1)!.seq;
    handed = seq;
    // mqtt.js holds a publish the broker has not acknowledged in memory only: marked delivered before the
    // PUBACK, a kill -9 lost it for good (front ends kept alerts open whose resolution never came).
    void Promise.all(channels.map((c) => c.settled?.())).then(() => {
      if (journalOpen) journal.markDelivered(seq);
    });
  };

  // A transition journalled but not yet handed to the channels when the last process died goes out now, once.
  deliver(restored.recent.filter((t) => t.seq > restored.delivered));

  const publishNap = (nap: NapChange) => {
    client.publish(
      topics.nap(nap.center, nap.room),
      JSON.stringify({ v: 1, ts: nap.at, state: nap.state, by: nap.by }),
      { qos: 1, retain: true },
    );
  };

  const writeCheck = (record: NapCheckRecord) => {
    if (!writer) return;
    const point = new Point('nap_check')
      .tag('center', record.center)
      .tag('room', record.room)
      .tag('infant', record.infant)
      .intField('open_alerts', record.openAlerts)
      .timestamp(record.at);
    if (record.posture) point.stringField('posture', record.posture);
    if (record.motion !== undefined) point.floatField('motion', record.motion);
    if (record.skinTempC !== undefined) point.floatField('skin_temp', record.skinTempC);
    if (record.confirmedBy) point.stringField('confirmed_by', record.confirmedBy);
    writer.writePoint(point);
  };

  let timer: NodeJS.Timeout | undefined;
  let armedFor: number | undefined;
  let closed = false;

  // Group commit: an alert storm (a centre's wearables all silent at once) costs one fsync per event-loop
  // turn, not one per alert, and the first alert of the turn waits for no more than that turn.
  let undelivered: AlertTransition[] = [];
  let commit: NodeJS.Immediate | undefined;
  const flush = () => {
    clearImmediate(commit);
    commit = undefined;
    if (undelivered.length === 0) return;
    journal.sync();
    const transitions = undelivered;
    undelivered = [];
    deliver(transitions);
  };

  const step = (out: EngineOutput) => {
    journal.append(engine.drainChanges(), out.transitions);
    stats.stale += out.stale;
    stats.transitions += out.transitions.length;
    metrics.transitions(out.transitions);
    if (out.transitions.length > 0) {
      undelivered.push(...out.transitions);
      commit ??= setImmediate(flush);
    }
    for (const nap of out.naps) {
      if (nap.source === 'schedule') publishNap(nap);
      writer?.writePoint(
        new Point('nap_session')
          .tag('center', nap.center)
          .tag('room', nap.room)
          .stringField('state', nap.state)
          .stringField('by', nap.by)
          .timestamp(nap.at),
      );
      for (const listener of boardListeners) listener({ type: 'board', center: nap.center });
    }
    for (const record of out.checks) {
      writeCheck(record);
      for (const listener of boardListeners) listener({ type: 'nap-check', record });
    }
    if (journal.needsCompaction()) journal.compact(engine.snapshot());
    arm();
  };

  /** One timer, for the engine's next deadline; in device-time mode wall delays shrink by the speed. */
  const arm = () => {
    if (closed) return;
    const deadline = engine.nextDeadline();
    if (deadline === armedFor && timer) return;
    clearTimeout(timer);
    armedFor = deadline;
    if (deadline === undefined) return;
    const delay = Math.max(0, Math.ceil((deadline - now()) / speed));
    timer = setTimeout(() => {
      timer = undefined;
      armedFor = undefined;
      try {
        step(engine.tick());
      } catch (error) {
        log.error({ err: error }, 'rules step failed');
        arm();
      }
    }, delay);
  };

  /** `ts` moves the replay clock; a status does not (a last will carries the broker's wall-clock time). */
  const input = (value: EngineInput, ts: number | undefined, arrivedAt: number) => {
    if (ts !== undefined) deviceClock?.observe(ts);
    step(engine.handle({ ...value, arrivedAt: now() }));
    metrics.processed(value.type, ts ?? arrivedAt, arrivedAt);
  };

  const onMessage = (message: Message, arrivedAt: number) => {
    switch (message.kind) {
      case 'telemetry': {
        const publisher = fleet().devices.get(message.source.id)!;
        stats.invalid += message.refused.length;
        for (const reading of message.readings) {
          if (!checkReading(reading, publisher, fleet()).ok) {
            stats.invalid++;
            continue;
          }
          input(
            { type: 'reading', center: message.center, reading, via: message.source.id },
            reading.reading.ts,
            arrivedAt,
          );
        }
        return;
      }
      case 'status':
        if (message.source.type === 'device') {
          input(
            { type: 'status', center: message.center, device: message.source.id, status: message.status },
            undefined,
            arrivedAt,
          );
        }
        return;
      case 'alarm': {
        const offsetMs = message.event.ts - now();
        if (config.maxClockSkewMs !== null && Math.abs(offsetMs) > config.maxClockSkewMs)
          log.warn(
            { device: message.device, offsetMs },
            'press from a button whose clock is off: stamped on arrival',
          );
        input(
          { type: 'alarm', center: message.center, device: message.device, event: message.event },
          message.event.ts,
          arrivedAt,
        );
        return;
      }
      case 'nap':
        input(
          { type: 'nap', center: message.center, room: message.room, nap: message.nap },
          message.nap.ts,
          arrivedAt,
        );
        return;
      case 'broker-hold':
        metrics.brokerHold(message.hold.held);
        step(engine.brokerHold(message.broker, message.hold.held));
        return;
      case 'alert-ack':
      case 'alert-resolve': {
        // From caregiver apps and the alert front ends (frontend/), which hold no rule state.
        const alert = engine.getAlert(message.alertId);
        if (alert?.center !== message.center) return;
        const act = message.kind === 'alert-ack' ? alerts.acknowledge : alerts.resolve;
        act(message.alertId, message.ack.by, message.ack.ts);
        return;
      }
    }
  };

  const receive = (topic: string, payload: Buffer, arrivedAt: number) => {
    stats.received++;
    const where = parseTopic(topic);
    // A press is never refused for its button's clock: the engine stamps it on arrival.
    const alarm = where?.kind === 'device' && where.channel === 'alarm';
    const parsed = parseMessage(topic, payload, {
      now: now(),
      maxSkewMs: alarm ? null : config.maxClockSkewMs,
    });
    const checked = parsed.ok ? checkPublisher(parsed.value, fleet()) : parsed;
    if (!checked.ok) {
      // Ingest dead-letters invalid input; here it is only counted.
      stats.invalid++;
      log.debug({ topic, reason: checked.reason, detail: checked.detail }, 'input ignored');
      return;
    }
    try {
      onMessage(checked.value, arrivedAt);
    } catch (error) {
      log.error({ err: error, topic }, 'rules step failed');
    }
  };

  const command = (run: () => { result: CommandResult; output: EngineOutput }): CommandResult => {
    const { result, output } = run();
    step(output);
    return result;
  };

  const alerts: AlertService = {
    list(filter = {}) {
      const open = engine.openAlerts().filter((a) => !filter.center || a.center === filter.center);
      if (!filter.includeResolved) return open;
      const resolved = new Map<string, Alert>();
      for (const t of journal.recent()) {
        if (t.kind === 'resolved' && (!filter.center || t.alert.center === filter.center))
          resolved.set(t.alert.id, t.alert);
      }
      return [...open, ...resolved.values()];
    },
    get: (id) => engine.getAlert(id) ?? journal.recent().findLast((t) => t.alert.id === id)?.alert,
    acknowledge: (id, by, at = now()) => command(() => engine.acknowledge(id, by, at)),
    resolve: (id, by, at = now()) => command(() => engine.resolve(id, by, at)),
    transitionsSince: (afterSeq, center) =>
      journal.recent().filter((t) => t.seq > afterSeq && (!center || t.alert.center === center)),
    subscribe(listener) {
      transitionListeners.add(listener);
      return () => transitionListeners.delete(listener);
    },
  };

  const board: BoardService = {
    rooms: (center) => roomBoards(fleet(), engine, center),
    async setNap(center, room, state, by) {
      const ts = Math.floor(now());
      await client.publishAsync(topics.nap(center, room), JSON.stringify({ v: 1, ts, state, by }), {
        qos: 1,
        retain: true,
      });
      // Followed at once rather than on the broker's echo, which the engine then sees as no change.
      input({ type: 'nap', center, room, nap: { v: 1, ts, state, by } }, ts, Date.now());
    },
    napChecks(center, room, day) {
      const zone = fleet().centers.get(center)?.timezone ?? 'UTC';
      return engine
        .checks()
        .filter((c) => c.center === center && c.room === room && localTime(c.at, zone).day === day)
        .sort((a, b) => a.at - b.at || a.infant.localeCompare(b.infant));
    },
    confirmCheck(center, checkId, by) {
      const record = engine.confirmCheck(center, checkId, by, Math.floor(now()));
      if (record) step(engine.tick());
      return record;
    },
    subscribe(listener) {
      boardListeners.add(listener);
      return () => boardListeners.delete(listener);
    },
  };

  let http: Awaited<ReturnType<typeof startHttp>>;
  try {
    const ops: OpsSource = {
      service: 'rules',
      registries: [metrics.registry, channelRegistry],
      checks: {
        mqtt: () => {
          for (const [session, subs] of [
            ['telemetry', telemetrySubs],
            ['priority', prioritySubs],
          ] as const) {
            const outcome = subs.health(config.mqtt.url);
            if (!outcome.ok) return { ok: false, reason: `${outcome.reason} (${session} session)` };
          }
          return passing;
        },
        journal: () => disk.check(),
      },
    };
    http = await startHttp(config.http, {
      alerts,
      board,
      fleet,
      log,
      ops: [ops, ...(options.alsoServe ?? [])],
    });
  } catch (error) {
    closed = true;
    clearTimeout(timer);
    await Promise.all(channels.map((c) => c.close()));
    await Promise.all([client.endAsync(true), priority.endAsync(true)]);
    await writer?.close().catch(() => undefined);
    journalOpen = false;
    disk.close();
    journal.close();
    fleetWatcher.close();
    throw error;
  }
  step(engine.tick());
  ready = true;
  for (const [topic, payload, arrivedAt] of early.splice(0)) receive(topic, payload, arrivedAt);
  subscribed = true;
  const subscribeAll = () =>
    subscribe(partitioned ? owned : ['+']).catch((error: unknown) =>
      log.warn({ err: error }, 'subscribe failed; repeated on the next connection'),
    );
  // A SUBSCRIBE cut off by a connection reset (seen on a broker cluster right after a restart), or a
  // session the broker lost, is made whole on every reconnect; subscribing again is harmless.
  for (const c of [client, priority]) c.on('connect', () => void subscribeAll());
  await subscribeAll();

  return {
    url: http.url,
    alerts,
    board,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      flush();
      // A last chance for state the disk refused, while the outboxes are still open to be written.
      disk.retry();
      disk.close();
      await http.close();
      await Promise.all(channels.map((c) => c.close()));
      await Promise.all([client.endAsync(), priority.endAsync()]);
      await writer
        ?.close()
        .catch((error: unknown) => log.warn({ err: error }, 'influx flush failed on close'));
      // The channels are closed: what they took is with their peers, or never will be.
      journal.markDelivered(handed);
      journalOpen = false;
      journal.compact(engine.snapshot());
      journal.close();
      fleetWatcher.close();
    },
  };
}

function roomBoards(fleet: FleetIndex, engine: Engine, center: string): RoomBoard[] {
  const open = engine.openAlerts();
  const delayed = engine.dataDelayedS(center);
  return fleet.roomsOf(center).map((room) => {
    const nap = engine.nap(room.id);
    const env = engine.room(room.id);
    return {
      center,
      room: room.id,
      name: room.name,
      ...(room.nameZh ? { nameZh: room.nameZh } : {}),
      napping: nap?.napping === true,
      ...(nap?.napping && nap.since !== undefined ? { napStartedAt: nap.since } : {}),
      ...(env ? { tempC: env.tempC, humidity: env.humidity } : {}),
      infants: fleet.infantsOf(room.id).map((infant) => {
        const device = fleet.wearableOfInfant.get(infant.id);
        const r = device ? engine.wearable(device.id) : undefined;
        return {
          infant: infant.id,
          displayName: infant.displayName,
          ...(device ? { device: device.id } : {}),
          ...(r
            ? {
                posture: r.posture,
                skinTempC: r.skinTempC,
                motion: r.motion,
                worn: r.worn,
                battery: r.battery,
                lastReadingAt: r.ts,
              }
            : {}),
        };
      }),
      openAlerts: open.filter((a) => a.room === room.id),
      ...(delayed !== undefined ? { dataDelayedS: delayed } : {}),
    };
  });
}

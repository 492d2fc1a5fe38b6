import type { AlertService, AlertTransition, CommandResult } from '../protocol/alerts.ts';
import type { Alert } from '../protocol/payloads.ts';
import { filters, topics } from '../protocol/topics.ts';
import { FleetWatcher } from '../lib/fleet-file.ts';
import type { Logger } from '../lib/logger.ts';
import { connectSession } from '../lib/mqtt-connect.ts';
import { Subscriptions } from '../lib/mqtt-subscribe.ts';
import type { OpsSource } from '../lib/ops/index.ts';
import { channelRegistry } from '../rules/channels/index.ts';
import type { BoardEvent, BoardService, RoomBoard } from '../rules/contracts.ts';
import { startHttp } from '../rules/http/index.ts';
import { BusView } from './bus-view.ts';
import type { FrontendConfig } from './config.ts';

export interface RunningFrontend {
  url: string;
  alerts: AlertService;
  view: BusView;
  close(): Promise<void>;
}

/**
 * The caregiver page, alert API and SSE stream of rules/http with no rule state behind them: alerts come
 * from the bus (BusView), and acknowledgements, resolutions and nap sessions go back on it to the rules
 * partition that owns the centre. Any number of these run side by side behind a load balancer.
 */
export async function startFrontend(config: FrontendConfig, log: Logger): Promise<RunningFrontend> {
  const fleetWatcher = new FleetWatcher(config.fleetFile, log).start();
  const fleet = () => fleetWatcher.current;
  const transitionListeners = new Set<(t: AlertTransition) => void>();
  const boardListeners = new Set<(e: BoardEvent) => void>();
  const view = new BusView(config.recentTransitions, (event) => {
    const center = event.type === 'transition' ? event.transition.alert.center : event.center;
    if (event.type === 'transition') for (const listener of transitionListeners) listener(event.transition);
    for (const listener of boardListeners) listener({ type: 'board', center });
  });

  // A persistent session: across a broker failover the cluster queues the transitions for it, so the
  // streams it serves have no gap. Its id must be its own (config.ts); a restart picks the session up.
  const client = connectSession(config.mqtt);
  client.on('message', (topic, payload) => view.receive(topic, payload));
  client.on('error', (error) => log.warn({ err: error }, 'mqtt error'));
  const subscriptions = new Subscriptions(client, log);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (error) => {
        if (!client.connected)
          reject(new Error(`cannot connect to MQTT ${config.mqtt.url}: ${error.message}`));
      });
    });
    await subscriptions.add([filters.alerts(), filters.alertTransitions(), filters.nap()]);
  } catch (error) {
    client.end(true);
    fleetWatcher.close();
    throw error;
  }

  /** The command is the rules partition's to carry out: answered once the broker holds it (PUBACK). */
  const send = async (topic: string, body: object): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), config.commandTimeoutMs);
    });
    const sent = client.publishAsync(topic, JSON.stringify(body), { qos: 1 }).then(
      () => true,
      () => false,
    );
    const ok = await Promise.race([sent, timeout]);
    clearTimeout(timer);
    return ok;
  };
  const unavailable = (id: string): CommandResult => {
    log.warn({ alert: id }, 'broker did not take the command in time');
    // The HTTP layer has no 503 in CommandResult; `conflict` tells the page to retry.
    return { ok: false, error: 'conflict', message: 'the alert service is unavailable; try again' };
  };
  const notFound = (id: string): CommandResult => ({
    ok: false,
    error: 'not-found',
    message: `no open alert ${id}`,
  });

  const alerts: AlertService = {
    list(filter = {}) {
      const inCenter = (a: Alert) => !filter.center || a.center === filter.center;
      const open = [...view.open.values()].filter(inCenter);
      if (!filter.includeResolved) return open;
      const resolved = new Map<string, Alert>();
      for (const t of view.recent)
        if (t.kind === 'resolved' && inCenter(t.alert)) resolved.set(t.alert.id, t.alert);
      return [...open, ...resolved.values()];
    },
    get: (id) => view.open.get(id) ?? view.recent.findLast((t) => t.alert.id === id)?.alert,
    async acknowledge(id, by, at = Date.now()) {
      const alert = view.open.get(id);
      if (!alert) return notFound(id);
      if (alert.state === 'acknowledged') return { ok: true, alert };
      const ts = Math.floor(at);
      if (!(await send(topics.alertAck(alert.center, id), { by, ts }))) return unavailable(id);
      return { ok: true, alert: { ...alert, state: 'acknowledged', acknowledgedBy: by, acknowledgedAt: ts } };
    },
    async resolve(id, by, at = Date.now()) {
      const alert = view.open.get(id);
      if (!alert) return notFound(id);
      // The engine's rule (rules/engine): only alerts with no condition to clear are closed by hand.
      if (alert.rule !== 'one-key-alarm') {
        return {
          ok: false,
          error: 'conflict',
          message: `${alert.rule} alerts resolve when their condition clears; acknowledge it instead`,
        };
      }
      const ts = Math.floor(at);
      if (!(await send(topics.alertResolve(alert.center, id), { by, ts }))) return unavailable(id);
      return { ok: true, alert: { ...alert, state: 'resolved', resolvedAt: ts } };
    },
    transitionsSince: (afterSeq, center) =>
      view.recent.filter((t) => t.seq > afterSeq && (!center || t.alert.center === center)),
    subscribe(listener) {
      transitionListeners.add(listener);
      return () => transitionListeners.delete(listener);
    },
  };

  const board: BoardService = {
    rooms: (center) => roomBoards(center),
    async setNap(center, room, state, by) {
      const body = { v: 1, ts: Math.floor(Date.now()), state, by };
      await client.publishAsync(topics.nap(center, room), JSON.stringify(body), { qos: 1, retain: true });
    },
    // The nap-check log is rule state: it is served by the rules partition that owns the centre.
    napChecks: () => [],
    confirmCheck: () => undefined,
    subscribe(listener) {
      boardListeners.add(listener);
      return () => boardListeners.delete(listener);
    },
  };

  /** Rooms from the registry, nap state and open alerts from the bus; readings stay with the rules. */
  const roomBoards = (center: string): RoomBoard[] => {
    const open = [...view.open.values()];
    return fleet()
      .roomsOf(center)
      .map((room) => {
        const nap = view.naps.get(room.id);
        const napping = nap?.state === 'started';
        return {
          center,
          room: room.id,
          name: room.name,
          ...(room.nameZh ? { nameZh: room.nameZh } : {}),
          napping,
          ...(napping ? { napStartedAt: nap.ts } : {}),
          infants: fleet()
            .infantsOf(room.id)
            .map((infant) => {
              const device = fleet().wearableOfInfant.get(infant.id);
              return {
                infant: infant.id,
                displayName: infant.displayName,
                ...(device ? { device: device.id } : {}),
              };
            }),
          openAlerts: open.filter((a) => a.room === room.id),
        };
      });
  };

  let http: Awaited<ReturnType<typeof startHttp>>;
  try {
    const ops: OpsSource = {
      service: 'frontend',
      registries: [channelRegistry],
      checks: { mqtt: () => subscriptions.health(config.mqtt.url) },
    };
    http = await startHttp(config.http, { alerts, board, fleet, log, ops: [ops] });
  } catch (error) {
    await client.endAsync(true);
    fleetWatcher.close();
    throw error;
  }
  log.info({ url: http.url, open: view.open.size }, 'alert front end ready');
  let closed = false;
  return {
    url: http.url,
    alerts,
    view,
    async close() {
      if (closed) return;
      closed = true;
      await http.close();
      await client.endAsync();
      fleetWatcher.close();
    },
  };
}

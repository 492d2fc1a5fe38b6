import type { AlertService } from '../../protocol/alerts.ts';
import { checkPublisher, checkReading, type FleetIndex } from '../../protocol/fleet.ts';
import { type Message, parseMessage } from '../../protocol/parse.ts';
import { parseTopic } from '../../protocol/topics.ts';
import type { Logger } from '../../lib/logger.ts';
import type { RulesServiceConfig } from '../config.ts';
import type { Engine } from '../engine/engine.ts';
import type { RulesMetrics, RulesStats } from '../metrics.ts';
import type { EngineLoop } from './engine-loop.ts';
import type { Receive } from './mqtt-sessions.ts';

export interface MqttInputsDeps {
  fleet: () => FleetIndex;
  engine: Engine;
  loop: EngineLoop;
  /** Acknowledgements and resolutions from the bus are carried out as the HTTP API's are. */
  alerts: AlertService;
  now: () => number;
  maxClockSkewMs: RulesServiceConfig['maxClockSkewMs'];
  stats: RulesStats;
  metrics: RulesMetrics;
  log: Logger;
}

/**
 * Turns MQTT messages into engine inputs: each is parsed, its publisher and readings checked against the
 * registry, and what passes goes to the engine loop; what does not is counted.
 */
export function mqttInputs(deps: MqttInputsDeps): Receive {
  const { fleet, engine, loop, alerts, now, maxClockSkewMs, stats, metrics, log } = deps;

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
          loop.input(
            { type: 'reading', center: message.center, reading, via: message.source.id },
            reading.reading.ts,
            arrivedAt,
          );
        }
        return;
      }
      case 'status':
        if (message.source.type === 'device') {
          loop.input(
            { type: 'status', center: message.center, device: message.source.id, status: message.status },
            undefined,
            arrivedAt,
          );
        }
        return;
      case 'alarm': {
        const offsetMs = message.event.ts - now();
        if (maxClockSkewMs !== null && Math.abs(offsetMs) > maxClockSkewMs)
          log.warn(
            { device: message.device, offsetMs },
            'press from a button whose clock is off: stamped on arrival',
          );
        loop.input(
          { type: 'alarm', center: message.center, device: message.device, event: message.event },
          message.event.ts,
          arrivedAt,
        );
        return;
      }
      case 'nap':
        loop.input(
          { type: 'nap', center: message.center, room: message.room, nap: message.nap },
          message.nap.ts,
          arrivedAt,
        );
        return;
      case 'broker-hold':
        metrics.brokerHold(message.hold.held);
        loop.step(engine.brokerHold(message.broker, message.hold.held));
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

  return (topic, payload, arrivedAt) => {
    stats.received++;
    const where = parseTopic(topic);
    // A press is never refused for its button's clock: the engine stamps it on arrival.
    const alarm = where?.kind === 'device' && where.channel === 'alarm';
    const parsed = parseMessage(topic, payload, {
      now: now(),
      maxSkewMs: alarm ? null : maxClockSkewMs,
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
}

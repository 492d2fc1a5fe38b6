import type { MqttClient } from 'mqtt';
import type { FleetIndex } from '../../protocol/fleet.ts';
import { topics } from '../../protocol/topics.ts';
import type { BoardEvent, BoardService, RoomBoard } from '../contracts.ts';
import type { Engine } from '../engine/engine.ts';
import { localTime } from '../engine/time.ts';
import type { EngineLoop } from './engine-loop.ts';

export interface BoardServiceDeps {
  fleet: () => FleetIndex;
  engine: Engine;
  loop: EngineLoop;
  now: () => number;
  /** Where a nap set on the page is published. */
  mqtt: MqttClient;
  listeners: Set<(e: BoardEvent) => void>;
}

/** The caregiver page's rooms, nap sessions and nap-check log, from this process's engine. */
export function createBoardService(deps: BoardServiceDeps): BoardService {
  const { fleet, engine, loop, now, mqtt, listeners } = deps;
  return {
    rooms: (center) => roomBoards(fleet(), engine, center),
    async setNap(center, room, state, by) {
      const ts = Math.floor(now());
      await mqtt.publishAsync(topics.nap(center, room), JSON.stringify({ v: 1, ts, state, by }), {
        qos: 1,
        retain: true,
      });
      // Followed at once rather than on the broker's echo, which the engine then sees as no change.
      loop.input({ type: 'nap', center, room, nap: { v: 1, ts, state, by } }, ts, Date.now());
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
      if (record) loop.tick();
      return record;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
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

import type { Infant } from '../../protocol/fleet.ts';
import type { WearableReading } from '../../protocol/payloads.ts';
import type { NapCheckRecord } from '../contracts.ts';
import { type Core, MINUTE, type NapChange } from './core.ts';
import type { RoomNap } from './state.ts';
import { ageInMonths, inSchedule, localTime } from './time.ts';

/**
 * Nap sessions per room (from messages or the registry's schedule, evaluated on minute boundaries in the
 * centre's timezone) and the nap-check records written on the age cadence while a room naps.
 */
export class Naps {
  /** The schedule is evaluated on minute boundaries (its resolution), from the last evaluated minute on. */
  readonly #scheduleEvaluated = new Map<string, number>();
  #lastPrune = 0;

  constructor(
    private readonly core: Core,
    /** Every infant of the room, at a nap's start or end: the sleep rules follow. */
    private readonly changed: (infant: Infant, started: boolean, at: number) => void,
    private readonly latest: (infant: string) => WearableReading | undefined,
  ) {}

  set(
    center: string,
    room: string,
    state: 'started' | 'ended',
    by: string,
    at: number,
    source: NapChange['source'],
  ) {
    const { store } = this.core;
    const current = store.state.naps[room] ?? { center, napping: false, nextCheck: {} };
    if (current.napping === (state === 'started')) return;
    const nap: RoomNap = { ...current, napping: state === 'started', by, nextCheck: {} };
    const infants = this.core.fleet().infantsOf(room);
    if (state === 'started') {
      nap.since = at;
      for (const infant of infants) nap.nextCheck[infant.id] = at;
    } else delete nap.since;
    store.set('naps', room, nap);
    this.core.out().naps.push({ center, room, state, by, at, source });
    this.core.schedule({ kind: 'check', id: room });
    for (const infant of infants) this.changed(infant, state === 'started', at);
  }

  scheduleDue(room: string): number | undefined {
    const r = this.core.fleet().rooms.get(room);
    if (!r?.napSchedule.length) return undefined;
    if (this.core.store.state.naps[room]?.scheduled === undefined) {
      return Math.floor(this.core.clock() / MINUTE) * MINUTE;
    }
    const last = this.#scheduleEvaluated.get(room) ?? Math.floor(this.core.clock() / MINUTE) * MINUTE;
    return last + MINUTE;
  }

  fireSchedule(room: string, at: number): void {
    this.#scheduleEvaluated.set(room, at);
    const r = this.core.fleet().rooms.get(room);
    if (!r) return;
    const inside = inSchedule(r.napSchedule, localTime(at, this.core.timeZone(r.center)).minuteOfDay);
    const nap = this.core.store.state.naps[room];
    if (nap?.scheduled !== inside) {
      this.core.store.set('naps', room, {
        ...(nap ?? { center: r.center, napping: false, nextCheck: {} }),
        scheduled: inside,
      });
      this.set(r.center, room, inside ? 'started' : 'ended', 'schedule', at, 'schedule');
    }
  }

  checkDue(room: string): number | undefined {
    const nap = this.core.store.state.naps[room];
    if (!nap?.napping) return undefined;
    const times = Object.values(nap.nextCheck);
    return times.length ? Math.min(...times) : undefined;
  }

  #cadenceMs(infant: Infant, at: number): number {
    const c = this.core.thresholds(infant.center).napCheck;
    const age = ageInMonths(infant.birthMonth, at, this.core.timeZone(infant.center));
    return (age < 12 ? c.underOneMin : age < 24 ? c.oneYearMin : c.twoPlusMin) * MINUTE;
  }

  fireChecks(room: string, at: number): void {
    const { store } = this.core;
    const nap = store.state.naps[room]!;
    const nextCheck = { ...nap.nextCheck };
    for (const [infantId, due] of Object.entries(nap.nextCheck)) {
      if (due > at) continue;
      const infant = this.core.fleet().infants.get(infantId);
      if (!infant) {
        delete nextCheck[infantId];
        continue;
      }
      const r = this.latest(infantId);
      const record: NapCheckRecord = {
        id: `chk-${infantId}-${due.toString(36)}`,
        center: infant.center,
        room,
        infant: infantId,
        at: due,
        ...(r ? { posture: r.posture, motion: r.motion, skinTempC: r.skinTempC } : {}),
        openAlerts: Object.values(store.state.alerts).filter(
          (o) => o.alert.subject.kind === 'infant' && o.alert.subject.id === infantId,
        ).length,
      };
      store.set('checks', record.id, record);
      this.core.out().checks.push(record);
      nextCheck[infantId] = due + this.#cadenceMs(infant, due);
    }
    store.set('naps', room, { ...nap, nextCheck });
    this.#pruneChecks(at);
  }

  /** The CSV sheet needs today's records; two days covers any timezone's "today". */
  #pruneChecks(at: number): void {
    if (at - this.#lastPrune < 60 * MINUTE) return;
    this.#lastPrune = at;
    for (const [id, record] of Object.entries(this.core.store.state.checks)) {
      if (record.at < at - 48 * 60 * MINUTE) this.core.store.delete('checks', id);
    }
  }
}

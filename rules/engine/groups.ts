import type { Alert, Severity } from '../../protocol/payloads.ts';
import type { Alerts } from './alerts.ts';
import { type Core, alertKey, ms } from './core.ts';

const ROOM = 'room-silent';
const CENTER = 'center-silent';
const SINGLE = 'monitoring-lost';

/**
 * One cause, one alert. A wearable found silent (its deadline, or its will) is not raised at once: the
 * silent wearables of its centre are gathered for `groupGatherS`, then judged together. Most of a centre's
 * in-use wearables silent: one `center-silent` alert naming them (its uplink); else, per room, most of a
 * room's: one `room-silent` alert (its gateway or Wi-Fi); the rest one `monitoring-lost` each. A member
 * that reports again leaves its group; once the group is no longer most of its level, it resolves and the
 * members still silent come back one alert each.
 */
export class SilenceGroups {
  /** Per centre, silent wearables waiting for its decision, with the time each went silent. */
  readonly #pending = new Map<string, Map<string, number>>();
  /** Per centre with pending silences, when the gathering began. */
  readonly #gathering = new Map<string, number>();
  /** A group alert's members as a set: asked for every reading of a folded wearable. */
  readonly #members = new WeakMap<readonly string[], Set<string>>();

  constructor(
    private readonly core: Core,
    private readonly alerts: Alerts,
    /** Raises a wearable's own monitoring-lost alert. */
    private readonly single: (device: string, at: number) => void,
  ) {}

  #wearables(center: string, room?: string): readonly string[] {
    return this.core.fleet().wearablesInUse(center, room);
  }

  #groupKeys(device: string): string[] {
    const d = this.core.fleet().devices.get(device);
    return d ? [alertKey(CENTER, d.center), ...(d.room ? [alertKey(ROOM, d.room)] : [])] : [];
  }

  #isMember(key: string, device: string): boolean {
    const devices = this.alerts.open(key)?.alert.devices;
    if (!devices) return false;
    let members = this.#members.get(devices);
    if (!members) {
      members = new Set(devices);
      this.#members.set(devices, members);
    }
    return members.has(device);
  }

  #pendingIn(center: string | undefined): Map<string, number> | undefined {
    return center === undefined ? undefined : this.#pending.get(center);
  }

  /** The open group alert that stands for this wearable, if any: its own silence is decided there. */
  folded(device: string): boolean {
    if (this.#pendingIn(this.core.fleet().devices.get(device)?.center)?.has(device)) return true;
    return this.#groupKeys(device).some((key) => this.#isMember(key, device));
  }

  silent(device: string, at: number): void {
    const d = this.core.fleet().devices.get(device);
    if (!d || this.folded(device)) return;
    this.#gather(d.center, device, at);
  }

  #gather(center: string, device: string, at: number): void {
    let pending = this.#pending.get(center);
    if (!pending) {
      pending = new Map();
      this.#pending.set(center, pending);
      // Found late (after a stall, say), wearables that went silent together are found one source at a
      // time: gathered from when that began, not from the stamp, they are still judged together.
      const now = this.core.clock();
      const late = now - at > ms(this.core.thresholds(center).monitoringLost.groupGatherS);
      this.#gathering.set(center, late ? now : at);
    }
    pending.set(device, at);
    this.core.schedule({ kind: 'silent-group', id: center });
  }

  due(center: string): number | undefined {
    const since = this.#gathering.get(center);
    if (since === undefined) return undefined;
    return since + ms(this.core.thresholds(center).monitoringLost.groupGatherS);
  }

  fire(center: string, at: number): void {
    const fleet = this.core.fleet();
    const since = this.#pending.get(center) ?? new Map<string, number>();
    this.#pending.delete(center);
    this.#gathering.delete(center);
    const pending = [...since.keys()];
    const isSilent = (device: string) => {
      const infant = fleet.devices.get(device)?.infant;
      return (
        since.has(device) ||
        (infant !== undefined && this.alerts.open(alertKey(SINGLE, infant)) !== undefined) ||
        this.folded(device)
      );
    };
    const all = this.#wearables(center);
    const silentAll = all.filter(isSilent);
    if (most(silentAll.length, all.length)) {
      for (const room of new Set(silentAll.map((d) => fleet.devices.get(d)!.room)))
        this.#close(ROOM, room, at);
      this.#foldSingles(silentAll, at);
      this.#open(CENTER, center, undefined, silentAll, at);
      return;
    }
    for (const room of new Set(pending.map((d) => fleet.devices.get(d)!.room))) {
      const inRoom = this.#wearables(center, room);
      const silentRoom = inRoom.filter(isSilent);
      if (most(silentRoom.length, inRoom.length)) {
        this.#foldSingles(silentRoom, at);
        this.#open(ROOM, room, center, silentRoom, at);
      } else {
        // On its own: stamped when it went silent, as if never gathered.
        for (const d of pending) if (fleet.devices.get(d)!.room === room) this.single(d, since.get(d)!);
      }
    }
  }

  /** A wearable reported: it leaves any group; a group no longer most of its level hands the rest back. */
  resumed(device: string, at: number): void {
    if (!this.folded(device)) return;
    const d = this.core.fleet().devices.get(device);
    if (d) {
      const pending = this.#pending.get(d.center);
      if (pending?.delete(device) && pending.size === 0) {
        this.#pending.delete(d.center);
        this.#gathering.delete(d.center);
      }
      this.#leave(device, d.center, d.room, at);
    }
    // Its own silence deadline was dropped while a group stood for it: it is its own again.
    this.core.schedule({ kind: 'silence', id: device });
  }

  #leave(device: string, center: string, room: string, at: number): void {
    for (const [rule, id] of [
      [CENTER, center],
      [ROOM, room],
    ] as const) {
      const key = alertKey(rule, id);
      const open = this.alerts.open(key);
      if (!open?.alert.devices || !this.#isMember(key, device)) continue;
      const rest = open.alert.devices.filter((m) => m !== device);
      const level = rule === CENTER ? this.#wearables(center) : this.#wearables(center, room);
      if (most(rest.length, level.length)) {
        this.alerts.update(key, open, 'updated', at, { devices: rest, value: rest.length });
        continue;
      }
      this.alerts.close(key, at);
      // Gathered again: one still silent once its peers are back gets its own alert (or a smaller group).
      for (const m of rest) this.#gather(center, m, at);
    }
  }

  /** Critical while a room of the group naps. */
  napChanged(center: string, room: string, at: number): void {
    for (const [rule, id] of [
      [ROOM, room],
      [CENTER, center],
    ] as const) {
      const key = alertKey(rule, id);
      const open = this.alerts.open(key);
      if (!open) continue;
      const severity = this.#severity(open.alert);
      if (severity !== open.alert.severity) this.alerts.changeSeverity(key, open, severity, at);
    }
  }

  #severity(alert: Pick<Alert, 'devices'>): Severity {
    const fleet = this.core.fleet();
    const napping = (alert.devices ?? []).some((d) => this.core.napping(fleet.devices.get(d)?.room));
    return napping ? 'critical' : 'warning';
  }

  #open(rule: string, id: string, room: string | undefined, devices: string[], at: number): void {
    const key = alertKey(rule, id);
    const sorted = [...devices].sort();
    const open = this.alerts.open(key);
    if (open) {
      this.alerts.update(key, open, 'updated', at, { devices: sorted, value: sorted.length });
      return;
    }
    const center = this.core.fleet().devices.get(sorted[0]!)!.center;
    const subject = { kind: rule === CENTER ? ('center' as const) : ('room' as const), id };
    const base = { rule, center, ...(room ? { room } : {}), subject };
    this.alerts.raise(key, base, this.#severity({ devices: sorted }), at, undefined, sorted.length, sorted);
  }

  #close(rule: string, id: string, at: number): void {
    const key = alertKey(rule, id);
    if (this.alerts.open(key)) this.alerts.close(key, at);
  }

  /** Wearables already alerted one by one join the group: their own alerts close into it. */
  #foldSingles(devices: string[], at: number): void {
    for (const device of devices) {
      const infant = this.core.fleet().devices.get(device)?.infant;
      const key = infant ? alertKey(SINGLE, infant) : undefined;
      if (key && this.alerts.open(key)) this.alerts.close(key, at);
    }
  }
}

/** At least two, and more than half. */
function most(silent: number, of: number): boolean {
  return silent >= 2 && silent * 2 > of;
}

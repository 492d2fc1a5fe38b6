import type { Infant } from '../../protocol/fleet.ts';
import type { Severity } from '../../protocol/payloads.ts';
import type { Alerts } from './alerts.ts';
import type { Conditions } from './conditions.ts';
import { type Core, alertKey, ms } from './core.ts';
import { SilenceGroups } from './groups.ts';
import { InputProgress } from './progress.ts';
import type { Tracker } from './state.ts';

const RULE = 'monitoring-lost';
const DEGRADED = 'monitoring-degraded';

/**
 * Monitoring lost: a silence deadline per assigned wearable, judged against input progress, a last will,
 * and the resume count that resolves it.
 */
export class Monitoring {
  /** Silence is counted from here for a wearable that has not reported since this process started. */
  #from: number;
  readonly progress: InputProgress;
  readonly groups: SilenceGroups;
  /** Per wearable, the connection its latest reading came by (a gateway, or itself). */
  readonly #sources = new Map<string, string>();
  /** Per source, the centre its readings were for: whose silence period it keeps. */
  readonly #sourceCenters = new Map<string, string>();
  /** Per centre, how late its latest reading reached the rules (arrival minus placed time). */
  readonly #lag = new Map<string, number>();

  constructor(
    private readonly core: Core,
    private readonly alerts: Alerts,
    private readonly conditions: Conditions,
    private readonly latestTs: (device: string) => number | undefined,
  ) {
    this.#from = core.clock();
    this.progress = new InputProgress(this.#from);
    this.groups = new SilenceGroups(core, alerts, (device, at) => {
      const infant = this.#infantOf(device);
      if (infant && !this.core.store.state.alerts[alertKey(RULE, infant.id)]) this.raise(infant, at);
    });
  }

  /** A replay's device time starts before the wall clock: silence is counted from its first input. */
  startAt(ts: number): void {
    if (ts >= this.#from) return;
    this.#from = ts;
    this.progress.restart(ts);
    for (const device of this.core.fleet().devices.values())
      this.core.schedule({ kind: 'silence', id: device.id });
  }

  #lastSeen(device: string): number {
    return this.latestTs(device) ?? this.#from;
  }

  silenceDue(deviceId: string): number | undefined {
    const device = this.core.fleet().devices.get(deviceId);
    if (!device?.infant || device.kind !== 'wearable') return undefined;
    if (this.core.store.state.alerts[alertKey(RULE, device.infant)]) return undefined;
    if (this.groups.folded(deviceId)) return undefined;
    const silence = ms(this.core.thresholds(device.center).monitoringLost.silenceS);
    const due = this.#lastSeen(deviceId) + silence;
    const now = this.core.clock();
    const source = this.#sourceOf(deviceId);
    if (due > now || this.progress.admits(source, deviceId, due, now, silence)) return due;
    this.core.schedule({ kind: 'source-silence', id: source });
    return undefined;
  }

  /** The connection a wearable's readings come by: its gateway's, or its own until it has reported. */
  #sourceOf(device: string): string {
    return this.#sources.get(device) ?? device;
  }

  fireSilence(deviceId: string, at: number): void {
    if (this.#infantOf(deviceId)) this.groups.silent(deviceId, at);
  }

  #infantOf(deviceId: string): Infant | undefined {
    const device = this.core.fleet().devices.get(deviceId);
    return device?.infant ? this.core.fleet().infants.get(device.infant) : undefined;
  }

  /** A source silent for a silence period: its waiting wearables no longer wait for its later readings. */
  sourceSilentDue(source: string): number | undefined {
    if (!this.progress.waits(source)) return undefined;
    // A source that never delivered is a wearable of its own, in the registry (unless it has left it).
    const center = this.#sourceCenters.get(source) ?? this.core.fleet().devices.get(source)?.center;
    if (center === undefined) return undefined;
    const silence = ms(this.core.thresholds(center).monitoringLost.silenceS);
    return this.progress.silentAt(source, silence, this.core.clock());
  }

  fireSourceSilent(source: string): void {
    for (const device of this.progress.release(source)) this.core.schedule({ kind: 'silence', id: device });
  }

  /**
   * A broker holds telemetry publishers (or reads them again): the time it holds does not count towards a
   * source's silence. Its end can bring the sources' timers forward again.
   */
  brokerHold(broker: string, held: boolean, at: number): void {
    this.progress.hold(broker, held, at);
    if (held) return;
    for (const source of this.progress.waitingSources())
      this.core.schedule({ kind: 'source-silence', id: source });
  }

  /**
   * A reading by `source` moved its progress: wearables waiting on that source are looked at again, and its
   * delay decides whether the centre's monitoring is degraded. Degraded holds nothing back by itself: a
   * per-wearable silence already waits for its source, and alarms and conditions never wait.
   */
  advanced(center: string, device: string, source: string, at: number, arrival: number): void {
    this.#sources.set(device, source);
    this.#sourceCenters.set(source, center);
    for (const waiting of this.progress.advance(center, source, at, arrival)) {
      this.core.schedule({ kind: 'silence', id: waiting });
    }
    const lag = arrival - at;
    this.#lag.set(center, lag);
    const limit = ms(this.core.thresholds(center).monitoringLost.degradedLagS);
    const key = alertKey(DEGRADED, center);
    if (lag <= limit / 2 && !this.core.store.state.trackers[key]) return;
    this.conditions.judge(key, { rule: DEGRADED, center, subject: { kind: 'center', id: center } }, arrival, {
      levels: [{ severity: 'warning', holdMs: 0, active: lag > limit }],
      clear: lag <= limit / 2,
      // A backlog drains in bursts: caught up for a whole threshold before saying so, or the banner flaps.
      clearHoldMs: limit,
      value: Math.round(lag / 1000),
    });
  }

  /** Seconds the centre's data is delayed by, while that is past the degraded threshold. */
  delayedS(center: string): number | undefined {
    // While a broker holds telemetry nothing arrives to measure a delay by: it is at least the hold's age.
    const now = this.core.clock();
    const lag = Math.max(this.#lag.get(center) ?? 0, now - (this.progress.stalledSince(now) ?? now));
    const limit = ms(this.core.thresholds(center).monitoringLost.degradedLagS);
    return lag > limit ? Math.round(lag / 1000) : undefined;
  }

  /** A last will: gathered like a silence, so a gateway's wills arriving together are one alert. */
  offline(infant: Infant, at: number): void {
    const device = this.core.fleet().wearableOfInfant.get(infant.id);
    if (device && !this.core.store.state.alerts[alertKey(RULE, infant.id)]) this.groups.silent(device.id, at);
  }

  raise(infant: Infant, at: number): void {
    const device = this.core.fleet().wearableOfInfant.get(infant.id);
    const severity: Severity = this.core.napping(infant.room) ? 'critical' : 'warning';
    this.alerts.raise(
      alertKey(RULE, infant.id),
      { rule: RULE, center: infant.center, room: infant.room, subject: { kind: 'infant', id: infant.id } },
      severity,
      at,
      device ? this.#lastSeen(device.id) : at,
    );
  }

  /** Critical while the room naps, warning otherwise. */
  napChanged(infant: Infant, started: boolean, at: number): void {
    this.groups.napChanged(infant.center, infant.room, at);
    const key = alertKey(RULE, infant.id);
    const open = this.alerts.open(key);
    const severity: Severity = started ? 'critical' : 'warning';
    if (open && open.alert.severity !== severity) this.alerts.changeSeverity(key, open, severity, at);
  }

  /** Readings after a loss must continue for `resumeS` before the alert resolves; a new gap restarts that. */
  resume(infant: Infant, previousTs: number | undefined, ts: number): void {
    const device = this.core.fleet().wearableOfInfant.get(infant.id);
    if (device) this.groups.resumed(device.id, ts);
    const { store } = this.core;
    const key = alertKey(RULE, infant.id);
    if (!store.state.alerts[key]) return;
    const t = this.core.thresholds(infant.center).monitoringLost;
    const tracker = store.state.trackers[key];
    const gap = previousTs === undefined || ts - previousTs > ms(t.silenceS);
    if (!tracker || tracker.clearSince === undefined || gap) {
      store.set('trackers', key, {
        rule: RULE,
        center: infant.center,
        room: infant.room,
        subject: { kind: 'infant', id: infant.id },
        levels: [],
        clearHoldMs: ms(t.resumeS),
        durationValue: true,
        clearSince: ts,
      } satisfies Tracker);
    }
    const since = store.state.trackers[key]!.clearSince!;
    // Resolved by a reading, not a timer: "resumed for 10 s" needs a reading 10 s after the first.
    if (ts - since >= ms(t.resumeS)) this.alerts.close(key, ts);
  }
}

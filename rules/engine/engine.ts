import { createHash } from 'node:crypto';
import type { AlertTransition, AlertTransitionKind, CommandResult } from '../../protocol/alerts.ts';
import type { FleetIndex, Infant } from '../../protocol/fleet.ts';
import type { Reading } from '../../protocol/parse.ts';
import {
  type AlarmEvent,
  type Alert,
  type DeviceStatus,
  type NapSession,
  type RoomReading,
  type RuleId,
  SEVERITIES,
  type Severity,
  type WearableReading,
} from '../../protocol/payloads.ts';
import type { NapCheckRecord } from '../contracts.ts';
import { renderMessage } from '../text/index.ts';
import { DeviceClocks } from './device-clock.ts';
import { DeadlineHeap } from './heap.ts';
import { InputProgress } from './progress.ts';
import {
  type Change,
  type DurableState,
  type MapName,
  type OpenAlert,
  type RoomNap,
  type Tracker,
  type TrackerLevel,
  emptyState,
} from './state.ts';
import type { RulesConfig, Thresholds } from './thresholds.ts';
import { ageInMonths, inSchedule, localTime } from './time.ts';

/** `arrivedAt`: the engine time the input was received at (default: the engine clock when it is handled). */
export type EngineInput = (
  | { type: 'reading'; center: string; reading: Reading }
  | { type: 'status'; center: string; device: string; status: DeviceStatus }
  | { type: 'alarm'; center: string; device: string; event: AlarmEvent }
  | { type: 'nap'; center: string; room: string; nap: NapSession }
) & { arrivedAt?: number };

export interface NapChange {
  center: string;
  room: string;
  state: 'started' | 'ended';
  by: string;
  at: number;
  /** `schedule` changes are the engine's own: the shell publishes them on the nap topic. */
  source: 'schedule' | 'message';
}

export interface EngineOutput {
  transitions: AlertTransition[];
  naps: NapChange[];
  checks: NapCheckRecord[];
  /** Inputs ignored as older than (or as old as) the subject's latest. */
  stale: number;
}

export interface EngineOptions {
  fleet: FleetIndex;
  rules: RulesConfig;
  /** Engine time in ms: the wall clock live, a device-time clock for replays, a fake one in tests. */
  clock: () => number;
  /**
   * `measured` (live): a reading is placed on the engine clock through its device's measured offset, and
   * presses, naps and status are stamped on arrival. `trusted` (replays on the device-time clock): the
   * recording's timestamps are the engine time.
   */
  deviceTime?: 'measured' | 'trusted';
  state?: DurableState;
}

/** A redelivered press is recognised among the button's last presses by its own timestamp. */
const PRESSES_KEPT = 16;

const SLEEP_RULES: RuleId[] = ['prone-sleep', 'no-movement', 'side-sleep'];
const rank = (s: Severity) => SEVERITIES.indexOf(s);
const MINUTE = 60_000;
const s = (seconds: number) => seconds * 1000;

/** Readable where it fits, hashed where it would pass the 64-character id limit; deterministic either way. */
export function alertId(rule: RuleId, subject: string, raisedAt: number): string {
  const readable = `${rule}-${subject}-${raisedAt.toString(36)}`;
  if (readable.length <= 64) return readable;
  return `${rule}-${createHash('sha256').update(`${rule}|${subject}|${raisedAt}`).digest('hex').slice(0, 24)}`;
}

const alertKey = (rule: RuleId, subject: string) => `${rule}|${subject}`;

interface WearableLatest {
  reading: WearableReading;
  /** Skin-temperature warm-up: when the wearable was put on, and the settled readings seen so far. */
  wornSince?: number;
  baselineSum: number;
  baselineCount: number;
}

/**
 * The rules engine: pure and deterministic. Inputs (readings, nap sessions, alarm presses, status,
 * acknowledgements) and clock advances go in, alert transitions, nap changes and nap-check records come
 * out. Durable state changes are recorded so the shell can journal them after every step.
 */
export class Engine {
  #fleet: FleetIndex;
  readonly #rules: RulesConfig;
  readonly #clock: () => number;
  readonly #deviceTime: 'measured' | 'trusted';
  readonly #deviceClocks = new DeviceClocks();
  readonly #state: DurableState;
  readonly #dirty = new Map<MapName, Set<string>>();
  readonly #heap = new DeadlineHeap();
  readonly #scheduled = new Map<string, number>();
  readonly #byId = new Map<string, string>();
  readonly #wearables = new Map<string, WearableLatest>();
  readonly #rooms = new Map<string, RoomReading>();
  readonly #roomLatestTs = new Map<string, number>();
  readonly #statusTs = new Map<string, number>();
  /** Silence is counted from here for a wearable that has not reported since this process started. */
  #monitorFrom: number;
  readonly #progress: InputProgress;
  #sawInput = false;
  #out: EngineOutput = { transitions: [], naps: [], checks: [], stale: 0 };
  #lastPrune = 0;

  constructor(options: EngineOptions) {
    this.#fleet = options.fleet;
    this.#rules = options.rules;
    this.#clock = options.clock;
    this.#deviceTime = options.deviceTime ?? 'measured';
    this.#state = options.state ?? emptyState();
    for (const [device, seen] of Object.entries(this.#state.presses)) {
      // Journals before the press list kept only the latest press time.
      if (!Array.isArray(seen)) this.#set('presses', device, [seen as unknown as number]);
    }
    this.#monitorFrom = this.#clock();
    this.#progress = new InputProgress(this.#monitorFrom);
    for (const [key, open] of Object.entries(this.#state.alerts)) {
      this.#byId.set(open.alert.id, key);
      this.#skipMissedReminders(key, open);
    }
    this.#scheduleAll();
  }

  /** After a downtime, one reminder stands for all the missed ones; then the cadence goes on from there. */
  #skipMissedReminders(key: string, open: OpenAlert): void {
    const remind = s(this.#thresholds(open.alert.center).lifecycle.reminderS[open.alert.severity]);
    const now = this.#clock();
    if (open.nextReminderAt === undefined || remind <= 0 || open.nextReminderAt + remind > now) return;
    open.nextReminderAt += remind * Math.floor((now - open.nextReminderAt) / remind);
    this.#set('alerts', key, open);
  }

  // ---- inputs -------------------------------------------------------------------------------------

  handle(raw: EngineInput): EngineOutput {
    const { input, at: ts, arrival } = this.#place(raw);
    if (!this.#sawInput) {
      this.#sawInput = true;
      // A replay's device time starts before the wall clock: silence is counted from its first input.
      if (ts < this.#monitorFrom) {
        this.#monitorFrom = ts;
        this.#progress.restart(ts);
        for (const device of this.#fleet.devices.values()) this.#schedule(`m|${device.id}`);
      }
    }
    this.#advance(Math.min(ts, this.#clock()));
    switch (input.type) {
      case 'reading':
        if (input.reading.type === 'wearable') this.#onWearable(input.reading.device, input.reading.reading);
        else this.#onRoom(input.reading.device, input.reading.reading);
        // After the reading itself: a wearable's own reading is no peer's progress past its deadline.
        for (const device of this.#progress.advance(input.center, ts, arrival)) this.#schedule(`m|${device}`);
        break;
      case 'status':
        this.#onStatus(input.device, input.status);
        break;
      case 'alarm':
        this.#onAlarm(input.center, input.device, input.event, ts);
        break;
      case 'nap':
        this.#onNap(input.center, input.room, input.nap.state, input.nap.by, input.nap.ts, 'message');
        break;
    }
    return this.tick();
  }

  /**
   * Puts an input on the engine clock (see `EngineOptions.deviceTime`). Live, a press is never judged by
   * its button's clock: it happened when it arrived.
   */
  #place(input: EngineInput): { input: EngineInput; at: number; arrival: number } {
    const now = this.#clock();
    if (this.#deviceTime === 'trusted') {
      // A recording's time is its arrival order too, so silence replays the same at any speed.
      if (input.type !== 'status') return { input, at: inputTime(input), arrival: inputTime(input) };
      // A last will carries the broker's wall-clock time (or the connect time), not the recording's: it is
      // placed where its centre's readings had got to, which is the same at any replay speed.
      const at = this.#progress.watermark(input.center) ?? Math.min(input.status.ts, now);
      return { input: { ...input, status: { ...input.status, ts: at } }, at, arrival: at };
    }
    const arrival = Math.min(input.arrivedAt ?? now, now);
    switch (input.type) {
      case 'reading': {
        const { device, reading } = input.reading;
        const at = this.#deviceClocks.place(device, reading.ts, arrival);
        return {
          input: { ...input, reading: { ...input.reading, reading: { ...reading, ts: at } } as Reading },
          at,
          arrival,
        };
      }
      case 'status':
        return { input: { ...input, status: { ...input.status, ts: arrival } }, at: arrival, arrival };
      case 'nap':
        return { input: { ...input, nap: { ...input.nap, ts: arrival } }, at: arrival, arrival };
      case 'alarm':
        return { input, at: arrival, arrival };
    }
  }

  /** Fires everything due up to the clock's now. */
  tick(): EngineOutput {
    this.#advance(this.#clock());
    const out = this.#out;
    this.#out = { transitions: [], naps: [], checks: [], stale: 0 };
    return out;
  }

  /** The next time something is due; the shell sets one timer for it. */
  nextDeadline(): number | undefined {
    return this.#heap.peek()?.at;
  }

  acknowledge(id: string, by: string, when = this.#clock()): { result: CommandResult; output: EngineOutput } {
    // A phone whose clock is ahead cannot acknowledge in the future.
    const at = Math.min(when, this.#clock());
    this.#advance(at);
    const open = this.#openById(id);
    if (!open) return { result: notFound(id), output: this.tick() };
    if (open.alert.state !== 'acknowledged') {
      const key = this.#byId.get(id)!;
      open.nextReminderAt = undefined;
      open.escalateAt = undefined;
      open.criticalAt = undefined;
      this.#update(key, open, 'acknowledged', at, {
        state: 'acknowledged',
        acknowledgedBy: by,
        acknowledgedAt: at,
      });
    }
    return { result: { ok: true, alert: open.alert }, output: this.tick() };
  }

  resolve(id: string, by: string, at = this.#clock()): { result: CommandResult; output: EngineOutput } {
    this.#advance(Math.min(at, this.#clock()));
    const open = this.#openById(id);
    if (!open) return { result: notFound(id), output: this.tick() };
    if (open.alert.rule !== 'one-key-alarm') {
      return {
        result: {
          ok: false,
          error: 'conflict',
          message: `${open.alert.rule} alerts resolve when their condition clears; acknowledge it instead`,
        },
        output: this.tick(),
      };
    }
    const alert = this.#close(this.#byId.get(id)!, at, by);
    return { result: { ok: true, alert }, output: this.tick() };
  }

  confirmCheck(center: string, checkId: string, by: string, at = this.#clock()): NapCheckRecord | undefined {
    const record = this.#state.checks[checkId];
    if (!record || record.center !== center) return undefined;
    const confirmed = { ...record, confirmedBy: by, confirmedAt: at };
    this.#set('checks', checkId, confirmed);
    this.#out.checks.push(confirmed);
    return confirmed;
  }

  setFleet(fleet: FleetIndex): void {
    this.#fleet = fleet;
    this.#scheduleAll();
  }

  // ---- reads for the service -----------------------------------------------------------------------

  openAlerts(): Alert[] {
    return Object.values(this.#state.alerts).map((o) => o.alert);
  }

  getAlert(id: string): Alert | undefined {
    return this.#openById(id)?.alert;
  }

  nap(room: string): RoomNap | undefined {
    return this.#state.naps[room];
  }

  wearable(device: string): WearableReading | undefined {
    return this.#wearables.get(device)?.reading;
  }

  room(room: string): RoomReading | undefined {
    return this.#rooms.get(room);
  }

  checks(): NapCheckRecord[] {
    return Object.values(this.#state.checks);
  }

  get seq(): number {
    return this.#state.meta.seq ?? 0;
  }

  snapshot(): DurableState {
    return structuredClone(this.#state);
  }

  /** The durable changes since the last drain, as (map, key, value-or-null): the journal's unit of write. */
  drainChanges(): Change[] {
    const changes: Change[] = [];
    for (const [map, keys] of this.#dirty) {
      const target = this.#state[map] as Record<string, unknown>;
      for (const key of keys) changes.push([map, key, target[key] ?? null]);
    }
    this.#dirty.clear();
    return changes;
  }

  // ---- rules ----------------------------------------------------------------------------------------

  #thresholds(center: string): Thresholds {
    return this.#rules.centers.get(center) ?? this.#rules.defaults;
  }

  #timeZone(center: string): string {
    return this.#fleet.centers.get(center)?.timezone ?? 'UTC';
  }

  #napping(room: string | undefined): boolean {
    return room !== undefined && this.#state.naps[room]?.napping === true;
  }

  #onWearable(deviceId: string, reading: WearableReading): void {
    const device = this.#fleet.devices.get(deviceId);
    if (!device) return;
    const latest = this.#wearables.get(deviceId);
    if (latest && reading.ts <= latest.reading.ts) {
      this.#out.stale++;
      return;
    }
    const previousTs = latest?.reading.ts;
    const entry: WearableLatest = latest ?? { reading, baselineSum: 0, baselineCount: 0 };
    entry.reading = reading;
    this.#wearables.set(deviceId, entry);
    const t = this.#thresholds(device.center);
    this.#judge(
      alertKey('low-battery', deviceId),
      {
        rule: 'low-battery',
        center: device.center,
        room: device.room,
        subject: { kind: 'device', id: deviceId },
      },
      reading.ts,
      [{ severity: 'info', holdMs: 0, active: reading.battery < t.lowBattery.below }],
      reading.battery >= t.lowBattery.clearAtOrAbove,
      0,
      reading.battery,
    );
    const infant = device.infant ? this.#fleet.infants.get(device.infant) : undefined;
    if (!infant) return;
    this.#resumeMonitoring(infant, previousTs, reading.ts);
    this.#skinBaseline(infant, entry, reading, t);
    this.#judgeWearable(infant, entry, reading.ts);
  }

  /** The infant rules on the wearable's latest reading, judged at `at` (a reading's time, or a nap start). */
  #judgeWearable(infant: Infant, entry: WearableLatest, at: number): void {
    const r = entry.reading;
    const t = this.#thresholds(infant.center);
    const base = {
      center: infant.center,
      room: infant.room,
      subject: { kind: 'infant' as const, id: infant.id },
    };
    const napping = this.#napping(infant.room);
    const age = ageInMonths(infant.birthMonth, at, this.#timeZone(infant.center));
    this.#judge(
      alertKey('prone-sleep', infant.id),
      { ...base, rule: 'prone-sleep' },
      at,
      [
        {
          severity: infant.rollsBothWays ? 'warning' : 'critical',
          holdMs: s(t.prone.holdS),
          active: napping && age < t.prone.underMonths && r.posture === 'prone',
        },
      ],
      r.posture !== 'prone',
      s(t.prone.clearS),
    );
    this.#judge(
      alertKey('no-movement', infant.id),
      { ...base, rule: 'no-movement' },
      at,
      [
        {
          severity: 'critical',
          holdMs: s(t.noMovement.holdS),
          active: napping && r.worn && r.motion < t.noMovement.below,
        },
      ],
      !r.worn || r.motion >= t.noMovement.clearAtOrAbove,
      s(t.noMovement.clearS),
    );
    this.#judge(
      alertKey('side-sleep', infant.id),
      { ...base, rule: 'side-sleep' },
      at,
      [
        {
          severity: 'warning',
          holdMs: s(t.side.holdS),
          active: napping && age < t.side.underMonths && r.posture === 'side',
        },
      ],
      r.posture !== 'side',
      s(t.side.clearS),
    );
    const off = !r.worn || (r.posture === 'unknown' && r.motion < t.wearableOff.stillBelow);
    this.#judge(
      alertKey('wearable-off', infant.id),
      { ...base, rule: 'wearable-off' },
      at,
      [{ severity: 'warning', holdMs: s(t.wearableOff.holdS), active: off }],
      !off,
      0,
    );
    const baseline = this.#state.baselines[infant.id];
    const st = t.skinTemp;
    const hot =
      baseline !== undefined && r.worn && (r.skinTempC - baseline >= st.riseC || r.skinTempC >= st.absoluteC);
    const back =
      baseline === undefined ||
      !r.worn ||
      (r.skinTempC - baseline < st.riseC - st.hysteresisC && r.skinTempC < st.absoluteC - st.hysteresisC);
    this.#judge(
      alertKey('skin-temp-rise', infant.id),
      { ...base, rule: 'skin-temp-rise' },
      at,
      [{ severity: 'warning', holdMs: s(st.holdS), active: hot }],
      back,
      s(st.clearS),
      r.skinTempC,
    );
  }

  /**
   * A skin patch needs time to settle: the baseline is the mean of the warm-up's last window, fixed when the
   * warm-up ends, and forgotten when the wearable comes off.
   */
  #skinBaseline(infant: Infant, entry: WearableLatest, r: WearableReading, t: Thresholds): void {
    if (!r.worn) {
      entry.wornSince = undefined;
      entry.baselineSum = 0;
      entry.baselineCount = 0;
      if (this.#state.baselines[infant.id] !== undefined) this.#delete('baselines', infant.id);
      return;
    }
    if (this.#state.baselines[infant.id] !== undefined) return;
    entry.wornSince ??= r.ts;
    const warm = entry.wornSince + s(t.skinTemp.warmupS);
    if (r.ts < warm) {
      if (r.ts >= warm - s(t.skinTemp.baselineWindowS)) {
        entry.baselineSum += r.skinTempC;
        entry.baselineCount++;
      }
      return;
    }
    if (entry.baselineCount > 0) this.#set('baselines', infant.id, entry.baselineSum / entry.baselineCount);
  }

  #onRoom(deviceId: string, reading: RoomReading): void {
    const device = this.#fleet.devices.get(deviceId);
    if (!device) return;
    const latest = this.#roomLatestTs.get(deviceId);
    if (latest !== undefined && reading.ts <= latest) {
      this.#out.stale++;
      return;
    }
    this.#roomLatestTs.set(deviceId, reading.ts);
    this.#rooms.set(device.room, reading);
    const t = this.#thresholds(device.center);
    const base = {
      center: device.center,
      room: device.room,
      subject: { kind: 'room' as const, id: device.room },
    };
    const temp = reading.tempC;
    this.#judge(
      alertKey('room-hot', device.room),
      { ...base, rule: 'room-hot' },
      reading.ts,
      [
        { severity: 'warning', holdMs: s(t.roomHot.warnHoldS), active: temp > t.roomHot.warnAbove },
        { severity: 'critical', holdMs: s(t.roomHot.criticalHoldS), active: temp > t.roomHot.criticalAbove },
      ],
      temp <= t.roomHot.clearAtOrBelow,
      s(t.roomHot.clearS),
      temp,
    );
    this.#judge(
      alertKey('room-cold', device.room),
      { ...base, rule: 'room-cold' },
      reading.ts,
      [{ severity: 'warning', holdMs: s(t.roomCold.holdS), active: temp < t.roomCold.below }],
      temp >= t.roomCold.clearAtOrAbove,
      s(t.roomCold.clearS),
      temp,
    );
    const h = t.humidity;
    const rh = reading.humidity;
    this.#judge(
      alertKey('humidity', device.room),
      { ...base, rule: 'humidity' },
      reading.ts,
      [{ severity: 'info', holdMs: s(h.holdS), active: rh < h.min || rh > h.max }],
      rh >= h.min + h.hysteresis && rh <= h.max - h.hysteresis,
      s(h.clearS),
      rh,
    );
  }

  #onStatus(deviceId: string, status: DeviceStatus): void {
    const device = this.#fleet.devices.get(deviceId);
    if (!device) return;
    const latest = this.#statusTs.get(deviceId);
    if (latest !== undefined && status.ts <= latest) {
      this.#out.stale++;
      return;
    }
    this.#statusTs.set(deviceId, status.ts);
    if (status.battery !== undefined) {
      const t = this.#thresholds(device.center);
      this.#judge(
        alertKey('low-battery', deviceId),
        {
          rule: 'low-battery',
          center: device.center,
          room: device.room,
          subject: { kind: 'device', id: deviceId },
        },
        status.ts,
        [{ severity: 'info', holdMs: 0, active: status.battery < t.lowBattery.below }],
        status.battery >= t.lowBattery.clearAtOrAbove,
        0,
        status.battery,
      );
    }
    const infant = device.infant ? this.#fleet.infants.get(device.infant) : undefined;
    if (status.state === 'offline' && infant && device.kind === 'wearable') {
      const key = alertKey('monitoring-lost', infant.id);
      if (!this.#state.alerts[key]) this.#raiseMonitoringLost(infant, status.ts);
    }
  }

  /** `at`: the press on the engine clock; `event.ts`, the button's own stamp, only tells a redelivery apart. */
  #onAlarm(center: string, deviceId: string, event: AlarmEvent, at: number): void {
    const device = this.#fleet.devices.get(deviceId);
    if (!device) return;
    const seen = this.#state.presses[deviceId] ?? [];
    if (seen.includes(event.ts)) {
      this.#out.stale++;
      return;
    }
    this.#set('presses', deviceId, [...seen, event.ts].slice(-PRESSES_KEPT));
    const key = alertKey('one-key-alarm', deviceId);
    const open = this.#state.alerts[key];
    if (!open) {
      this.#raise(
        key,
        { rule: 'one-key-alarm', center, room: device.room, subject: { kind: 'device', id: deviceId } },
        'critical',
        at,
      );
      return;
    }
    // Never deduplicated away: a second press re-notifies and, if staff had acknowledged, re-opens it.
    this.#armTimers(open, open.alert.severity, at);
    this.#update(key, open, 'renotified', at, {
      state: 'raised',
      acknowledgedBy: undefined,
      acknowledgedAt: undefined,
      notifications: open.alert.notifications + 1,
    });
  }

  #onNap(
    center: string,
    room: string,
    state: 'started' | 'ended',
    by: string,
    at: number,
    source: NapChange['source'],
  ) {
    const current = this.#state.naps[room] ?? { center, napping: false, nextCheck: {} };
    if (current.napping === (state === 'started')) return;
    const nap: RoomNap = { ...current, napping: state === 'started', by, nextCheck: {} };
    if (state === 'started') {
      nap.since = at;
      for (const infant of this.#fleet.infantsOf(room)) nap.nextCheck[infant.id] = at;
    } else delete nap.since;
    this.#set('naps', room, nap);
    this.#out.naps.push({ center, room, state, by, at, source });
    this.#schedule(`k|${room}`);
    for (const infant of this.#fleet.infantsOf(room)) {
      if (state === 'ended') {
        for (const rule of SLEEP_RULES) {
          const key = alertKey(rule, infant.id);
          if (this.#state.alerts[key]) this.#close(key, at);
          if (this.#state.trackers[key]) this.#delete('trackers', key);
        }
      } else {
        const device = this.#fleet.wearableOfInfant.get(infant.id);
        const entry = device ? this.#wearables.get(device.id) : undefined;
        if (entry) this.#judgeWearable(infant, entry, Math.max(at, entry.reading.ts));
      }
      const lost = alertKey('monitoring-lost', infant.id);
      const open = this.#state.alerts[lost];
      const severity: Severity = state === 'started' ? 'critical' : 'warning';
      if (open && open.alert.severity !== severity) this.#changeSeverity(lost, open, severity, at);
    }
  }

  // ---- monitoring lost --------------------------------------------------------------------------------

  #lastSeen(device: string): number {
    return this.#wearables.get(device)?.reading.ts ?? this.#monitorFrom;
  }

  #raiseMonitoringLost(infant: Infant, at: number): void {
    const device = this.#fleet.wearableOfInfant.get(infant.id);
    const key = alertKey('monitoring-lost', infant.id);
    const severity: Severity = this.#napping(infant.room) ? 'critical' : 'warning';
    this.#raise(
      key,
      {
        rule: 'monitoring-lost',
        center: infant.center,
        room: infant.room,
        subject: { kind: 'infant', id: infant.id },
      },
      severity,
      at,
      device ? this.#lastSeen(device.id) : at,
    );
  }

  /** Readings after a loss must continue for `resumeS` before the alert resolves; a new gap restarts that. */
  #resumeMonitoring(infant: Infant, previousTs: number | undefined, ts: number): void {
    const key = alertKey('monitoring-lost', infant.id);
    if (!this.#state.alerts[key]) return;
    const t = this.#thresholds(infant.center).monitoringLost;
    const tracker = this.#state.trackers[key];
    const gap = previousTs === undefined || ts - previousTs > s(t.silenceS);
    if (!tracker || tracker.clearSince === undefined || gap) {
      this.#set('trackers', key, {
        rule: 'monitoring-lost',
        center: infant.center,
        room: infant.room,
        subject: { kind: 'infant', id: infant.id },
        levels: [],
        clearHoldMs: s(t.resumeS),
        durationValue: true,
        clearSince: ts,
      } satisfies Tracker);
    }
    const since = this.#state.trackers[key]!.clearSince!;
    // Resolved by a reading, not a timer: "resumed for 10 s" needs a reading 10 s after the first.
    if (ts - since >= s(t.resumeS)) this.#close(key, ts);
  }

  // ---- the generic condition timer ---------------------------------------------------------------------

  #judge(
    key: string,
    base: Pick<Tracker, 'rule' | 'center' | 'room' | 'subject'>,
    at: number,
    levels: { severity: Severity; holdMs: number; active: boolean }[],
    clear: boolean,
    clearHoldMs: number,
    value?: number,
  ): void {
    const old = this.#state.trackers[key];
    const open = this.#state.alerts[key];
    const nextLevels: TrackerLevel[] = levels.map((level, i) => {
      const since = level.active ? (old?.levels[i]?.since ?? at) : undefined;
      return { severity: level.severity, holdMs: level.holdMs, ...(since !== undefined ? { since } : {}) };
    });
    const clearSince = open && clear ? (old?.clearSince ?? at) : undefined;
    const idle = nextLevels.every((l) => l.since === undefined) && clearSince === undefined;
    if (idle && !open) {
      if (old) this.#delete('trackers', key);
      return;
    }
    const tracker: Tracker = {
      ...base,
      levels: nextLevels,
      clearHoldMs,
      durationValue: value === undefined,
      ...(clearSince !== undefined ? { clearSince } : {}),
      ...(value !== undefined ? { value } : {}),
    };
    if (!old || !sameTracker(old, tracker)) this.#set('trackers', key, tracker);
    else if (value !== undefined && old.value !== value) {
      // Only the live value moved: kept in memory for the next notification, not worth a journal write.
      old.value = value;
    }
    this.#schedule(`c|${key}`);
  }

  #trackerDue(key: string): { at: number; level?: number } | undefined {
    const tracker = this.#state.trackers[key];
    if (!tracker || tracker.rule === 'monitoring-lost') return undefined;
    const open = this.#state.alerts[key];
    let best: { at: number; level?: number } | undefined;
    tracker.levels.forEach((level, i) => {
      if (level.since === undefined) return;
      if (open && rank(level.severity) <= rank(open.alert.severity)) return;
      const at = level.since + level.holdMs;
      if (!best || at < best.at) best = { at, level: i };
    });
    if (open && tracker.clearSince !== undefined) {
      const at = tracker.clearSince + tracker.clearHoldMs;
      if (!best || at < best.at) best = { at };
    }
    return best;
  }

  #fireTracker(key: string, due: { at: number; level?: number }): void {
    const tracker = this.#state.trackers[key]!;
    const open = this.#state.alerts[key];
    if (due.level === undefined) {
      this.#close(key, due.at);
      return;
    }
    const level = tracker.levels[due.level]!;
    if (!open) this.#raise(key, tracker, level.severity, due.at, level.since, tracker.value);
    else this.#changeSeverity(key, open, level.severity, due.at, tracker.value);
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  #raise(
    key: string,
    base: Pick<Tracker, 'rule' | 'center' | 'room' | 'subject'>,
    severity: Severity,
    at: number,
    conditionSince?: number,
    value?: number,
  ): void {
    const fields = {
      rule: base.rule,
      subject: base.subject,
      ...(base.room !== undefined ? { room: base.room } : {}),
      ...(value !== undefined
        ? { value }
        : conditionSince !== undefined
          ? { value: (at - conditionSince) / 1000 }
          : {}),
    };
    const alert: Alert = {
      v: 1,
      id: alertId(base.rule, base.subject.id, at),
      center: base.center,
      ...fields,
      severity,
      state: 'raised',
      raisedAt: at,
      updatedAt: at,
      escalated: false,
      notifications: 1,
      message: renderMessage(fields, this.#fleet),
    };
    const open: OpenAlert = { alert, ...(conditionSince !== undefined ? { conditionSince } : {}) };
    this.#armTimers(open, severity, at);
    this.#byId.set(alert.id, key);
    this.#set('alerts', key, open);
    this.#emit('raised', alert, at);
    this.#schedule(`a|${key}`);
  }

  /** Reminders, escalation and the warning→critical bump, counted from `at` while unacknowledged. */
  #armTimers(open: OpenAlert, severity: Severity, at: number): void {
    const life = this.#thresholds(open.alert.center).lifecycle;
    const remind = s(life.reminderS[severity]);
    const escalate = s(life.escalateS[severity]);
    open.nextReminderAt = remind > 0 ? at + remind : undefined;
    open.escalateAt =
      escalate > 0 && !open.alert.escalated ? Math.max(at, open.alert.raisedAt + escalate) : undefined;
    open.criticalAt =
      severity === 'warning' && life.warningToCriticalS > 0 ? at + s(life.warningToCriticalS) : undefined;
  }

  #changeSeverity(key: string, open: OpenAlert, severity: Severity, at: number, value?: number): void {
    const reopen = open.alert.state === 'acknowledged' && rank(severity) > rank(open.alert.severity);
    const acknowledged = open.alert.state === 'acknowledged' && !reopen;
    if (!acknowledged) this.#armTimers(open, severity, at);
    this.#update(key, open, 'updated', at, {
      severity,
      ...(value !== undefined ? { value } : {}),
      ...(reopen ? { state: 'raised', acknowledgedBy: undefined, acknowledgedAt: undefined } : {}),
      notifications: open.alert.notifications + 1,
    });
  }

  #alertDue(key: string): { at: number; what: 'critical' | 'escalate' | 'remind' } | undefined {
    const open = this.#state.alerts[key];
    if (!open || open.alert.state === 'acknowledged') return undefined;
    const candidates = [
      { at: open.criticalAt, what: 'critical' as const },
      { at: open.escalateAt, what: 'escalate' as const },
      { at: open.nextReminderAt, what: 'remind' as const },
    ].filter((c): c is { at: number; what: 'critical' | 'escalate' | 'remind' } => c.at !== undefined);
    candidates.sort((a, b) => a.at - b.at);
    return candidates[0];
  }

  #fireAlert(key: string, due: { at: number; what: 'critical' | 'escalate' | 'remind' }): void {
    const open = this.#state.alerts[key]!;
    const at = due.at;
    if (due.what === 'critical') {
      this.#changeSeverity(key, open, 'critical', at);
      return;
    }
    if (due.what === 'escalate') {
      open.escalateAt = undefined;
      this.#update(key, open, 'escalated', at, {
        state: 'escalated',
        escalated: true,
        notifications: open.alert.notifications + 1,
      });
      return;
    }
    const remind = s(this.#thresholds(open.alert.center).lifecycle.reminderS[open.alert.severity]);
    open.nextReminderAt = remind > 0 ? at + remind : undefined;
    this.#update(key, open, 'renotified', at, { notifications: open.alert.notifications + 1 });
  }

  #close(key: string, at: number, by?: string): Alert {
    const open = this.#state.alerts[key]!;
    const alert = this.#withText(open, {
      ...open.alert,
      state: 'resolved',
      resolvedAt: at,
      updatedAt: at,
      ...(by && !open.alert.acknowledgedBy ? { acknowledgedBy: by, acknowledgedAt: at } : {}),
    });
    this.#delete('alerts', key);
    this.#byId.delete(alert.id);
    const tracker = this.#state.trackers[key];
    if (tracker) {
      const { clearSince: _cleared, ...rest } = tracker;
      if (rest.levels.every((l) => l.since === undefined)) this.#delete('trackers', key);
      else this.#set('trackers', key, rest);
    }
    this.#emit('resolved', alert, at);
    if (alert.rule === 'monitoring-lost') {
      const device = this.#fleet.wearableOfInfant.get(alert.subject.id);
      if (device) this.#schedule(`m|${device.id}`);
    }
    return alert;
  }

  #update(
    key: string,
    open: OpenAlert,
    kind: AlertTransitionKind,
    at: number,
    changes: Partial<Alert>,
  ): void {
    const merged = { ...open.alert, ...changes, updatedAt: at } as Alert;
    for (const field of ['acknowledgedBy', 'acknowledgedAt'] as const) {
      if (merged[field] === undefined) delete merged[field];
    }
    open.alert = this.#withText(open, merged);
    this.#set('alerts', key, open);
    this.#emit(kind, open.alert, at, kind === 'escalated' ? 'supervisors' : 'caregivers');
    this.#schedule(`a|${key}`);
    this.#schedule(`c|${key}`);
  }

  /** Duration rules report how long the condition has held at this notification; the text follows the value. */
  #withText(open: OpenAlert, alert: Alert): Alert {
    const tracker = this.#state.trackers[`${alert.rule}|${alert.subject.id}`];
    let value = alert.value;
    if (
      open.conditionSince !== undefined &&
      alert.state !== 'resolved' &&
      (!tracker || tracker.durationValue)
    ) {
      value = (alert.updatedAt - open.conditionSince) / 1000;
    } else if (tracker?.value !== undefined && !tracker.durationValue) value = tracker.value;
    const next = value === undefined ? alert : { ...alert, value };
    return { ...next, message: renderMessage(next, this.#fleet) };
  }

  #emit(
    kind: AlertTransitionKind,
    alert: Alert,
    at: number,
    audience: AlertTransition['audience'] = 'caregivers',
  ) {
    const seq = this.seq + 1;
    this.#set('meta', 'seq', seq);
    this.#out.transitions.push({ seq, kind, at, alert, audience });
  }

  // ---- nap schedule and checks ----------------------------------------------------------------------

  #scheduleDue(room: string): number | undefined {
    const r = this.#fleet.rooms.get(room);
    if (!r || r.napSchedule.length === 0) return undefined;
    const nap = this.#state.naps[room];
    if (nap?.scheduled === undefined) return Math.floor(this.#clock() / MINUTE) * MINUTE;
    return undefined;
  }

  #fireSchedule(room: string, at: number): void {
    const r = this.#fleet.rooms.get(room);
    if (!r) return;
    const inside = inSchedule(r.napSchedule, localTime(at, this.#timeZone(r.center)).minuteOfDay);
    const nap = this.#state.naps[room];
    if (nap?.scheduled !== inside) {
      this.#set('naps', room, {
        ...(nap ?? { center: r.center, napping: false, nextCheck: {} }),
        scheduled: inside,
      });
      this.#onNap(r.center, room, inside ? 'started' : 'ended', 'schedule', at, 'schedule');
    }
  }

  #checkDue(room: string): number | undefined {
    const nap = this.#state.naps[room];
    if (!nap?.napping) return undefined;
    const times = Object.values(nap.nextCheck);
    return times.length ? Math.min(...times) : undefined;
  }

  #cadenceMs(infant: Infant, at: number): number {
    const c = this.#thresholds(infant.center).napCheck;
    const age = ageInMonths(infant.birthMonth, at, this.#timeZone(infant.center));
    return (age < 12 ? c.underOneMin : age < 24 ? c.oneYearMin : c.twoPlusMin) * MINUTE;
  }

  #fireChecks(room: string, at: number): void {
    const nap = this.#state.naps[room]!;
    const nextCheck = { ...nap.nextCheck };
    for (const [infantId, due] of Object.entries(nap.nextCheck)) {
      if (due > at) continue;
      const infant = this.#fleet.infants.get(infantId);
      if (!infant) {
        delete nextCheck[infantId];
        continue;
      }
      const device = this.#fleet.wearableOfInfant.get(infantId);
      const r = device ? this.#wearables.get(device.id)?.reading : undefined;
      const record: NapCheckRecord = {
        id: `chk-${infantId}-${due.toString(36)}`,
        center: infant.center,
        room,
        infant: infantId,
        at: due,
        ...(r ? { posture: r.posture, motion: r.motion, skinTempC: r.skinTempC } : {}),
        openAlerts: Object.values(this.#state.alerts).filter(
          (o) => o.alert.subject.kind === 'infant' && o.alert.subject.id === infantId,
        ).length,
      };
      this.#set('checks', record.id, record);
      this.#out.checks.push(record);
      nextCheck[infantId] = due + this.#cadenceMs(infant, due);
    }
    this.#set('naps', room, { ...nap, nextCheck });
    this.#pruneChecks(at);
  }

  /** The CSV sheet needs today's records; two days covers any timezone's "today". */
  #pruneChecks(at: number): void {
    if (at - this.#lastPrune < 60 * MINUTE) return;
    this.#lastPrune = at;
    for (const [id, record] of Object.entries(this.#state.checks)) {
      if (record.at < at - 48 * 60 * MINUTE) this.#delete('checks', id);
    }
  }

  // ---- deadlines ------------------------------------------------------------------------------------------

  #due(key: string): number | undefined {
    const kind = key.slice(0, 1);
    const id = key.slice(2);
    switch (kind) {
      case 'c':
        return this.#trackerDue(id)?.at;
      case 'a':
        return this.#alertDue(id)?.at;
      case 'm':
        return this.#monitorDue(id);
      case 's': {
        const first = this.#scheduleDue(id);
        if (first !== undefined) return first;
        return this.#fleet.rooms.get(id)?.napSchedule.length ? this.#nextMinute(id) : undefined;
      }
      case 'k':
        return this.#checkDue(id);
      case 'g':
        return this.#centerSilentDue(id);
    }
    return undefined;
  }

  /** The schedule is evaluated on minute boundaries (its resolution), from the last evaluated minute on. */
  readonly #scheduleEvaluated = new Map<string, number>();
  #nextMinute(room: string): number {
    const last = this.#scheduleEvaluated.get(room) ?? Math.floor(this.#clock() / MINUTE) * MINUTE;
    return last + MINUTE;
  }

  #monitorDue(deviceId: string): number | undefined {
    const device = this.#fleet.devices.get(deviceId);
    if (!device?.infant || device.kind !== 'wearable') return undefined;
    if (this.#state.alerts[alertKey('monitoring-lost', device.infant)]) return undefined;
    const silence = s(this.#thresholds(device.center).monitoringLost.silenceS);
    const due = this.#lastSeen(deviceId) + silence;
    const now = this.#clock();
    if (due > now || this.#progress.admits(device.center, deviceId, due, now, silence)) return due;
    this.#schedule(`g|${device.center}`);
    return undefined;
  }

  /** The whole centre silent for a silence period: its waiting wearables no longer wait for peers. */
  #centerSilentDue(center: string): number | undefined {
    if (!this.#progress.waits(center)) return undefined;
    const silence = s(this.#thresholds(center).monitoringLost.silenceS);
    return this.#progress.silentAt(center, silence);
  }

  #fire(key: string, at: number): void {
    const kind = key.slice(0, 1);
    const id = key.slice(2);
    switch (kind) {
      case 'c': {
        const due = this.#trackerDue(id);
        if (due) this.#fireTracker(id, due);
        break;
      }
      case 'a': {
        const due = this.#alertDue(id);
        if (due) this.#fireAlert(id, due);
        break;
      }
      case 'm': {
        const device = this.#fleet.devices.get(id);
        const infant = device?.infant ? this.#fleet.infants.get(device.infant) : undefined;
        if (infant) this.#raiseMonitoringLost(infant, at);
        break;
      }
      case 's':
        this.#scheduleEvaluated.set(id, at);
        this.#fireSchedule(id, at);
        break;
      case 'k':
        this.#fireChecks(id, at);
        break;
      case 'g':
        for (const device of this.#progress.release(id)) this.#schedule(`m|${device}`);
        break;
    }
  }

  #schedule(key: string): void {
    const due = this.#due(key);
    if (due === undefined) return;
    const current = this.#scheduled.get(key);
    if (current !== undefined && current <= due) return;
    this.#scheduled.set(key, due);
    this.#heap.push(due, key);
  }

  #advance(now: number): void {
    for (let top = this.#heap.peek(); top && top.at <= now; top = this.#heap.peek()) {
      this.#heap.pop();
      if (this.#scheduled.get(top.key) === top.at) this.#scheduled.delete(top.key);
      const due = this.#due(top.key);
      if (due !== undefined && due <= now) this.#fire(top.key, due);
      this.#schedule(top.key);
      if (top.key.startsWith('a|') || top.key.startsWith('c|')) {
        // A fired rule timer can move the other timer of the same (rule, subject).
        const id = top.key.slice(2);
        this.#schedule(`a|${id}`);
        this.#schedule(`c|${id}`);
      }
    }
  }

  #scheduleAll(): void {
    for (const key of Object.keys(this.#state.trackers)) this.#schedule(`c|${key}`);
    for (const key of Object.keys(this.#state.alerts)) this.#schedule(`a|${key}`);
    for (const room of this.#fleet.rooms.keys()) {
      this.#schedule(`s|${room}`);
      this.#schedule(`k|${room}`);
    }
    // Every assigned wearable gets a silence deadline, so one that never reports is caught too.
    for (const device of this.#fleet.devices.values()) this.#schedule(`m|${device.id}`);
  }

  #openById(id: string): OpenAlert | undefined {
    const key = this.#byId.get(id);
    return key ? this.#state.alerts[key] : undefined;
  }

  #set(map: MapName, key: string, value: unknown): void {
    (this.#state[map] as Record<string, unknown>)[key] = value;
    this.#touch(map, key);
  }

  #delete(map: MapName, key: string): void {
    delete (this.#state[map] as Record<string, unknown>)[key];
    this.#touch(map, key);
  }

  #touch(map: MapName, key: string): void {
    let keys = this.#dirty.get(map);
    if (!keys) {
      keys = new Set();
      this.#dirty.set(map, keys);
    }
    keys.add(key);
  }
}

function inputTime(input: EngineInput): number {
  switch (input.type) {
    case 'reading':
      return input.reading.reading.ts;
    case 'status':
      return input.status.ts;
    case 'alarm':
      return input.event.ts;
    case 'nap':
      return input.nap.ts;
  }
}

function notFound(id: string): CommandResult {
  return { ok: false, error: 'not-found', message: `no open alert ${id}` };
}

function sameTracker(a: Tracker, b: Tracker): boolean {
  return (
    a.clearSince === b.clearSince &&
    a.levels.length === b.levels.length &&
    a.levels.every((l, i) => l.since === b.levels[i]?.since && l.severity === b.levels[i]?.severity)
  );
}

import type { CommandResult } from '../../protocol/alerts.ts';
import type { FleetIndex, Infant } from '../../protocol/fleet.ts';
import type { Reading } from '../../protocol/parse.ts';
import type {
  AlarmEvent,
  Alert,
  DeviceStatus,
  NapSession,
  RoomReading,
  WearableReading,
} from '../../protocol/payloads.ts';
import type { NapCheckRecord } from '../contracts.ts';
import { press } from './alarm.ts';
import { Alerts } from './alerts.ts';
import { Conditions } from './conditions.ts';
import { type Core, type EngineOutput, alertKey, emptyOutput } from './core.ts';
import { deadlineRoutes } from './deadline-routes.ts';
import { Deadlines } from './deadlines.ts';
import { DeviceClocks } from './device-clock.ts';
import { Monitoring } from './monitoring.ts';
import { Naps } from './naps.ts';
import { Readings, SLEEP_RULES } from './readings.ts';
import type { DurableState, RoomNap } from './state.ts';
import { Store } from './store.ts';
import type { RulesConfig, Thresholds } from './thresholds.ts';

export { alertId, type EngineOutput, type NapChange } from './core.ts';

/** `arrivedAt`: the engine time the input was received at (default: the engine clock when it is handled). */
export type EngineInput =
  /** `via`: the gateway that relayed it; absent when the device published it itself. */
  (
    | { type: 'reading'; center: string; reading: Reading; via?: string }
    | { type: 'status'; center: string; device: string; status: DeviceStatus }
    | { type: 'alarm'; center: string; device: string; event: AlarmEvent }
    | { type: 'nap'; center: string; room: string; nap: NapSession }
  ) & { arrivedAt?: number };

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

/**
 * The rules engine: pure and deterministic. Inputs (readings, nap sessions, alarm presses, status,
 * acknowledgements) and clock advances go in, alert transitions, nap changes and nap-check records come
 * out. Durable state changes are recorded so the shell can journal them after every step. The rules
 * themselves are the registry's (`rules/`); this class routes inputs and timers to the parts that keep
 * their mechanics: conditions, the alert lifecycle, monitoring, naps and checks.
 */
export class Engine {
  #fleet: FleetIndex;
  readonly #rules: RulesConfig;
  readonly #clock: () => number;
  readonly #deviceTime: 'measured' | 'trusted';
  readonly #deviceClocks = new DeviceClocks();
  readonly #store: Store;
  readonly #core: Core;
  readonly #deadlines: Deadlines;
  readonly #routes: ReturnType<typeof deadlineRoutes>;
  readonly #alerts: Alerts;
  readonly #conditions: Conditions;
  readonly #monitoring: Monitoring;
  readonly #naps: Naps;
  readonly #readings: Readings;
  #sawInput = false;
  #out: EngineOutput = emptyOutput();

  constructor(options: EngineOptions) {
    this.#fleet = options.fleet;
    this.#rules = options.rules;
    this.#clock = options.clock;
    this.#deviceTime = options.deviceTime ?? 'measured';
    this.#store = new Store(options.state);
    for (const [device, seen] of Object.entries(this.#store.state.presses)) {
      // Journals before the press list kept only the latest press time.
      if (!Array.isArray(seen)) this.#store.set('presses', device, [seen as unknown as number]);
    }
    this.#core = {
      store: this.#store,
      fleet: () => this.#fleet,
      clock: this.#clock,
      thresholds: (center) => this.#thresholds(center),
      timeZone: (center) => this.#fleet.centers.get(center)?.timezone ?? 'UTC',
      napping: (room) => room !== undefined && this.#store.state.naps[room]?.napping === true,
      out: () => this.#out,
      schedule: (d) => this.#deadlines.schedule(d),
    };
    const core = this.#core;
    this.#deadlines = new Deadlines(
      (d) => this.#routes[d.kind].due(d.id),
      (d, at) => this.#routes[d.kind].fire(d.id, at),
    );
    this.#alerts = new Alerts(core);
    this.#conditions = new Conditions(core, this.#alerts);
    this.#monitoring = new Monitoring(
      core,
      this.#alerts,
      this.#conditions,
      (device) => this.#readings.wearable(device)?.ts,
    );
    this.#readings = new Readings(core, this.#conditions, this.#monitoring);
    this.#naps = new Naps(
      core,
      (infant, started, at) => this.#napChanged(infant, started, at),
      (infant) => this.#readings.latestOf(infant),
    );
    this.#routes = deadlineRoutes({
      conditions: this.#conditions,
      alerts: this.#alerts,
      monitoring: this.#monitoring,
      naps: this.#naps,
    });
    this.#alerts.onClose = (alert) => {
      if (alert.rule !== 'monitoring-lost') return;
      const device = this.#fleet.wearableOfInfant.get(alert.subject.id);
      if (device) this.#deadlines.schedule({ kind: 'silence', id: device.id });
    };
    this.#scheduleAll();
  }

  // ---- inputs -------------------------------------------------------------------------------------

  handle(raw: EngineInput): EngineOutput {
    const { input, at: ts, arrival } = this.#place(raw);
    if (!this.#sawInput) {
      this.#sawInput = true;
      this.#monitoring.startAt(ts);
    }
    this.#deadlines.advance(Math.min(ts, this.#clock()));
    switch (input.type) {
      case 'reading':
        if (
          !(input.reading.type === 'wearable'
            ? this.#readings.onWearable(input.reading.device, input.reading.reading)
            : this.#readings.onRoom(input.reading.device, input.reading.reading))
        )
          this.#out.stale++;
        // After the reading itself: a wearable's own reading is no peer's progress past its deadline.
        this.#monitoring.advanced(
          input.center,
          input.reading.device,
          input.via ?? input.reading.device,
          ts,
          arrival,
        );
        break;
      case 'status':
        if (!this.#readings.onStatus(input.device, input.status)) this.#out.stale++;
        break;
      case 'alarm':
        if (!press(this.#core, this.#alerts, input.center, input.device, input.event, ts)) this.#out.stale++;
        break;
      case 'nap':
        this.#naps.set(input.center, input.room, input.nap.state, input.nap.by, input.nap.ts, 'message');
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
      const at = this.#monitoring.progress.watermark(input.center) ?? Math.min(input.status.ts, now);
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
    this.#deadlines.advance(this.#clock());
    const out = this.#out;
    this.#out = emptyOutput();
    return out;
  }

  /** The next time something is due; the shell sets one timer for it. */
  nextDeadline(): number | undefined {
    return this.#deadlines.next();
  }

  acknowledge(id: string, by: string, when = this.#clock()): { result: CommandResult; output: EngineOutput } {
    // Live, a phone whose clock is ahead cannot acknowledge in the future; a replay's stamps are its time.
    const at = this.#deviceTime === 'trusted' ? when : Math.min(when, this.#clock());
    this.#deadlines.advance(Math.min(at, this.#clock()));
    const key = this.#alerts.keyOf(id);
    const open = key ? this.#alerts.open(key) : undefined;
    if (!key || !open) return { result: notFound(id), output: this.tick() };
    this.#alerts.acknowledge(key, open, by, at);
    return { result: { ok: true, alert: open.alert }, output: this.tick() };
  }

  resolve(id: string, by: string, at = this.#clock()): { result: CommandResult; output: EngineOutput } {
    this.#deadlines.advance(Math.min(at, this.#clock()));
    const key = this.#alerts.keyOf(id);
    const open = key ? this.#alerts.open(key) : undefined;
    if (!key || !open) return { result: notFound(id), output: this.tick() };
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
    const alert = this.#alerts.close(key, at, by);
    return { result: { ok: true, alert }, output: this.tick() };
  }

  /**
   * A broker announced that it holds telemetry publishers, or reads them again (`held` false): stamped on
   * arrival like a press, since the broker's own clock is not the engine's.
   */
  brokerHold(broker: string, held: boolean): EngineOutput {
    const at = this.#clock();
    this.#deadlines.advance(at);
    this.#monitoring.brokerHold(broker, held, at);
    return this.tick();
  }

  confirmCheck(center: string, checkId: string, by: string, at = this.#clock()): NapCheckRecord | undefined {
    const record = this.#store.state.checks[checkId];
    if (!record || record.center !== center) return undefined;
    const confirmed = { ...record, confirmedBy: by, confirmedAt: at };
    this.#store.set('checks', checkId, confirmed);
    this.#out.checks.push(confirmed);
    return confirmed;
  }

  setFleet(fleet: FleetIndex): void {
    this.#fleet = fleet;
    this.#scheduleAll();
  }

  // ---- reads for the service -----------------------------------------------------------------------

  openAlerts(): Alert[] {
    return Object.values(this.#store.state.alerts).map((o) => o.alert);
  }

  getAlert(id: string): Alert | undefined {
    return this.#alerts.byId(id)?.alert;
  }

  nap(room: string): RoomNap | undefined {
    return this.#store.state.naps[room];
  }

  wearable(device: string): WearableReading | undefined {
    return this.#readings.wearable(device);
  }

  room(room: string): RoomReading | undefined {
    return this.#readings.room(room);
  }

  /** Seconds a centre's data reaches the rules late, while its monitoring is degraded. */
  dataDelayedS(center: string): number | undefined {
    return this.#monitoring.delayedS(center);
  }

  checks(): NapCheckRecord[] {
    return Object.values(this.#store.state.checks);
  }

  get seq(): number {
    return this.#store.state.meta.seq ?? 0;
  }

  snapshot(): DurableState {
    return structuredClone(this.#store.state);
  }

  /** The durable changes since the last drain: the journal's unit of write. */
  drainChanges() {
    return this.#store.drainChanges();
  }

  // ---- routing inputs to the rules ------------------------------------------------------------------

  #thresholds(center: string): Thresholds {
    return this.#rules.centers.get(center) ?? this.#rules.defaults;
  }

  /** A nap's start judges the sleep rules from the latest reading on; its end resolves them. */
  #napChanged(infant: Infant, started: boolean, at: number): void {
    if (!started) {
      for (const rule of SLEEP_RULES) {
        const key = alertKey(rule, infant.id);
        if (this.#alerts.open(key)) this.#alerts.close(key, at);
        this.#conditions.forget(key);
      }
    } else {
      const latest = this.#readings.latestOf(infant.id);
      if (latest) this.#readings.judgeWearable(infant, Math.max(at, latest.ts));
    }
    this.#monitoring.napChanged(infant, started, at);
  }

  #scheduleAll(): void {
    const { state } = this.#store;
    for (const key of Object.keys(state.trackers)) this.#deadlines.schedule({ kind: 'condition', id: key });
    for (const key of Object.keys(state.alerts)) this.#deadlines.schedule({ kind: 'alert', id: key });
    for (const room of this.#fleet.rooms.keys()) {
      this.#deadlines.schedule({ kind: 'schedule', id: room });
      this.#deadlines.schedule({ kind: 'check', id: room });
    }
    // Every assigned wearable gets a silence deadline, so one that never reports is caught too.
    for (const device of this.#fleet.devices.values())
      this.#deadlines.schedule({ kind: 'silence', id: device.id });
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

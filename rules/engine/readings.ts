import type { Infant } from '../../protocol/fleet.ts';
import type { Alert, DeviceStatus, RoomReading, WearableReading } from '../../protocol/payloads.ts';
import { type WearableLatest, trackBaseline } from './baseline.ts';
import type { Conditions } from './conditions.ts';
import { type Core, alertKey } from './core.ts';
import type { Monitoring } from './monitoring.ts';
import { type ConditionRule, type Facts, type InputKind, SUBJECT_OF } from './rule.ts';
import { RULES } from './rules/index.ts';
import { ageInMonths } from './time.ts';

type AnyRule = ConditionRule<InputKind, string, unknown>;
const rulesOf = (input: InputKind) => (RULES as readonly AnyRule[]).filter((r) => r.input === input);
const WEARABLE_RULES = rulesOf('wearable');
const ROOM_RULES = rulesOf('room');
const BATTERY_RULES = rulesOf('battery');
export const SLEEP_RULES = WEARABLE_RULES.filter((r) => r.sleep).map((r) => r.id);

/**
 * Readings and device status into the registry's rules: each device's latest (older ones are stale), the
 * skin baseline, monitoring's resume count, and every rule of the input's kind judged on its subject.
 */
export class Readings {
  readonly #wearables = new Map<string, WearableLatest>();
  readonly #rooms = new Map<string, RoomReading>();
  readonly #roomLatestTs = new Map<string, number>();
  readonly #statusTs = new Map<string, number>();

  constructor(
    private readonly core: Core,
    private readonly conditions: Conditions,
    private readonly monitoring: Monitoring,
  ) {}

  wearable(device: string): WearableReading | undefined {
    return this.#wearables.get(device)?.reading;
  }

  room(room: string): RoomReading | undefined {
    return this.#rooms.get(room);
  }

  latestOf(infant: string): WearableReading | undefined {
    const device = this.core.fleet().wearableOfInfant.get(infant);
    return device ? this.#wearables.get(device.id)?.reading : undefined;
  }

  /** Returns false for a reading at or before the device's latest (counted as stale by the caller). */
  onWearable(deviceId: string, reading: WearableReading): boolean {
    const device = this.core.fleet().devices.get(deviceId);
    if (!device) return true;
    const latest = this.#wearables.get(deviceId);
    if (latest && reading.ts <= latest.reading.ts) return false;
    const previousTs = latest?.reading.ts;
    const entry: WearableLatest = latest ?? { reading, baselineSum: 0, baselineCount: 0 };
    entry.reading = reading;
    this.#wearables.set(deviceId, entry);
    this.#battery(deviceId, device.center, device.room, reading.ts, reading.battery);
    const infant = device.infant ? this.core.fleet().infants.get(device.infant) : undefined;
    if (!infant) return true;
    this.monitoring.resume(infant, previousTs, reading.ts);
    trackBaseline(this.core, infant.id, infant.center, entry);
    this.judgeWearable(infant, reading.ts);
    return true;
  }

  /** The infant rules on the wearable's latest reading, judged at `at` (a reading's time, or a nap start). */
  judgeWearable(infant: Infant, at: number): void {
    const reading = this.latestOf(infant.id);
    if (!reading) return;
    const { state } = this.core.store;
    const baseline = state.baselines[infant.id];
    this.#judge(
      WEARABLE_RULES,
      { center: infant.center, room: infant.room, id: infant.id, kind: 'wearable' },
      at,
      {
        reading,
        infant,
        napping: this.core.napping(infant.room),
        ageMonths: ageInMonths(infant.birthMonth, at, this.core.timeZone(infant.center)),
        ...(baseline !== undefined ? { baseline } : {}),
      },
    );
  }

  /** Returns false for a stale reading. */
  onRoom(deviceId: string, reading: RoomReading): boolean {
    const device = this.core.fleet().devices.get(deviceId);
    if (!device) return true;
    const latest = this.#roomLatestTs.get(deviceId);
    if (latest !== undefined && reading.ts <= latest) return false;
    this.#roomLatestTs.set(deviceId, reading.ts);
    this.#rooms.set(device.room, reading);
    const subject = { center: device.center, id: device.room, kind: 'room' as const, room: device.room };
    this.#judge(ROOM_RULES, subject, reading.ts, { reading, napping: this.core.napping(device.room) });
    return true;
  }

  /** Returns false for a stale status. */
  onStatus(deviceId: string, status: DeviceStatus): boolean {
    const device = this.core.fleet().devices.get(deviceId);
    if (!device) return true;
    const latest = this.#statusTs.get(deviceId);
    if (latest !== undefined && status.ts <= latest) return false;
    this.#statusTs.set(deviceId, status.ts);
    if (status.battery !== undefined)
      this.#battery(deviceId, device.center, device.room, status.ts, status.battery);
    const infant = device.infant ? this.core.fleet().infants.get(device.infant) : undefined;
    if (status.state === 'offline' && infant && device.kind === 'wearable')
      this.monitoring.offline(infant, status.ts);
    return true;
  }

  #battery(deviceId: string, center: string, room: string | undefined, at: number, battery: number): void {
    this.#judge(BATTERY_RULES, { center, room, id: deviceId, kind: 'battery' }, at, { battery });
  }

  /** Runs the registry's rules of one input kind on one subject. */
  #judge<I extends InputKind>(
    rules: AnyRule[],
    base: { center: string; room?: string | undefined; id: string; kind: I },
    at: number,
    facts: Facts[I],
  ): void {
    const t = this.core.thresholds(base.center) as unknown as Record<string, unknown>;
    for (const rule of rules) {
      this.conditions.judge(
        alertKey(rule.id, base.id),
        {
          rule: rule.id as Alert['rule'],
          center: base.center,
          ...(base.room !== undefined ? { room: base.room } : {}),
          subject: { kind: SUBJECT_OF[base.kind], id: base.id },
        },
        at,
        rule.judge(facts, t[rule.config]),
      );
    }
  }
}

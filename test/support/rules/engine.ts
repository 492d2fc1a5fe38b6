import type { AlertTransition } from '../../../protocol/alerts.ts';
import { FleetIndex, fleetSchema } from '../../../protocol/fleet.ts';
import type { RoomReading, WearableReading } from '../../../protocol/payloads.ts';
import { Engine, type EngineInput, type EngineOutput } from '../../../rules/engine/engine.ts';
import type { DurableState } from '../../../rules/engine/state.ts';
import { rulesConfigSchema } from '../../../rules/engine/thresholds.ts';

/** 12:00 in Shanghai on 2026-11-22: infants born 2026-06 are 4 months old (ages round down), 2025-09 13 months. */
export const T0 = Date.UTC(2026, 10, 22, 4, 0, 0);

export const fleetDoc = {
  centers: [{ id: 'ca', name: 'Centre A', nameZh: '甲园', timezone: 'Asia/Shanghai' }],
  rooms: [
    { id: 'r2', center: 'ca', name: 'nap room 2', nameZh: '2 号睡眠室' },
    { id: 'r3', center: 'ca', name: 'nap room 3', napSchedule: [{ start: '12:10', end: '12:20' }] },
  ],
  infants: [
    { id: 'a-07', center: 'ca', room: 'r2', birthMonth: '2026-06', displayName: '王小明' },
    { id: 'a-08', center: 'ca', room: 'r2', birthMonth: '2025-09', displayName: 'Lily' },
    { id: 'a-09', center: 'ca', room: 'r2', birthMonth: '2026-04', displayName: 'Tom', rollsBothWays: true },
    { id: 'b-01', center: 'ca', room: 'r3', birthMonth: '2024-06', displayName: 'Ann' },
  ],
  devices: [
    { id: 'w-07', kind: 'wearable', center: 'ca', room: 'r2', infant: 'a-07' },
    { id: 'w-08', kind: 'wearable', center: 'ca', room: 'r2', infant: 'a-08' },
    { id: 'w-09', kind: 'wearable', center: 'ca', room: 'r2', infant: 'a-09' },
    { id: 'w-b1', kind: 'wearable', center: 'ca', room: 'r3', infant: 'b-01' },
    { id: 'env-2', kind: 'room', center: 'ca', room: 'r2' },
    { id: 'btn-2', kind: 'alarm', center: 'ca', room: 'r2' },
  ],
};
export const fleet = new FleetIndex(fleetSchema.parse(fleetDoc));

export const calm: Omit<WearableReading, 'ts' | 'seq'> = {
  posture: 'supine',
  skinTempC: 36.5,
  motion: 0.3,
  worn: true,
  battery: 80,
};

/** An engine on a fake clock that records every output. */
export class Harness {
  now: number;
  readonly engine: Engine;
  readonly transitions: AlertTransition[] = [];
  readonly outputs: EngineOutput[] = [];
  #seq = 0;

  constructor(
    options: {
      rules?: Record<string, unknown>;
      start?: number;
      state?: DurableState;
      deviceTime?: 'measured' | 'trusted';
    } = {},
  ) {
    this.now = options.start ?? T0;
    this.engine = new Engine({
      fleet,
      rules: rulesConfigSchema.parse(options.rules ?? {}),
      clock: () => this.now,
      ...(options.deviceTime ? { deviceTime: options.deviceTime } : {}),
      ...(options.state ? { state: options.state } : {}),
    });
  }

  #collect(out: EngineOutput): EngineOutput {
    this.outputs.push(out);
    this.transitions.push(...out.transitions);
    return out;
  }

  /** Moves the clock and fires what is due, as the shell's timer does. */
  at(ms: number): EngineOutput {
    this.now = Math.max(this.now, ms);
    return this.#collect(this.engine.tick());
  }

  send(input: EngineInput): EngineOutput {
    return this.#collect(this.engine.handle(input));
  }

  wearable(device: string, ts: number, fields: Partial<WearableReading> = {}): EngineOutput {
    this.now = Math.max(this.now, ts);
    const reading = { ...calm, ...fields, ts, seq: this.#seq++ };
    return this.send({ type: 'reading', center: 'ca', reading: { type: 'wearable', device, reading } });
  }

  room(ts: number, fields: Partial<RoomReading>): EngineOutput {
    this.now = Math.max(this.now, ts);
    const reading = { tempC: 21, humidity: 45, ...fields, ts, seq: this.#seq++ };
    return this.send({ type: 'reading', center: 'ca', reading: { type: 'room', device: 'env-2', reading } });
  }

  nap(room: string, state: 'started' | 'ended', ts: number): EngineOutput {
    this.now = Math.max(this.now, ts);
    return this.send({ type: 'nap', center: 'ca', room, nap: { v: 1, ts, state, by: 'teacher-li' } });
  }

  press(ts: number, device = 'btn-2'): EngineOutput {
    this.now = Math.max(this.now, ts);
    return this.send({
      type: 'alarm',
      center: 'ca',
      device,
      event: { v: 1, ts, seq: this.#seq++, event: 'pressed' },
    });
  }

  ack(id: string, by: string, at: number) {
    this.now = Math.max(this.now, at);
    const { result, output } = this.engine.acknowledge(id, by, at);
    this.#collect(output);
    return result;
  }

  resolve(id: string, by: string, at: number) {
    this.now = Math.max(this.now, at);
    const { result, output } = this.engine.resolve(id, by, at);
    this.#collect(output);
    return result;
  }

  /** Readings every `stepMs` from `from` up to and including `to`. */
  stream(device: string, from: number, to: number, stepMs: number, fields: Partial<WearableReading>): void {
    for (let t = from; t <= to; t += stepMs) this.wearable(device, t, fields);
  }

  roomStream(from: number, to: number, stepMs: number, fields: Partial<RoomReading>): void {
    for (let t = from; t <= to; t += stepMs) this.room(t, fields);
  }

  /** Transitions of one rule, as `kind@seconds-after-T0`. */
  of(rule: string): string[] {
    return this.transitions
      .filter((t) => t.alert.rule === rule)
      .map((t) => `${t.kind}:${t.alert.severity}@${(t.at - T0) / 1000}`);
  }
}

/** Keeps every other device reporting, so monitoring-lost stays out of tests about other rules. */
export const QUIET_MONITORING = { defaults: { monitoringLost: { silenceS: 100_000 } } };

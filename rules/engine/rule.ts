import type { z } from 'zod';
import type { Infant } from '../../protocol/fleet.ts';
import type { RoomReading, Severity, WearableReading } from '../../protocol/payloads.ts';

/** One fire level of a condition: it raises (or raises the severity to) `severity` once true for `holdMs`. */
export interface Level {
  severity: Severity;
  holdMs: number;
  active: boolean;
}

/** A rule's answer for one reading; the core times the holds, the clear and the alert's lifecycle. */
export interface Verdict {
  levels: Level[];
  /** The clear condition, separate from the fire condition (hysteresis), held for `clearHoldMs`. */
  clear: boolean;
  clearHoldMs: number;
  /** A measured value (°C, %, ppm) for the alert; without one the value is how long the condition has held. */
  value?: number;
}

/** What a rule is judged on, per kind of input. */
export interface Facts {
  /** An infant's wearable reading; `baseline` is the infant's settled skin temperature, once known. */
  wearable: {
    reading: WearableReading;
    infant: Infant;
    napping: boolean;
    ageMonths: number;
    baseline?: number;
  };
  /** A room sensor's reading. */
  room: { reading: RoomReading; napping: boolean };
  /** A device's battery, from its readings or its status messages. */
  battery: { battery: number };
}
export type InputKind = keyof Facts;

/** The subject an alert of each input kind is about. */
export const SUBJECT_OF = { wearable: 'infant', room: 'room', battery: 'device' } as const;

/**
 * A condition rule: its id (the alert's `rule`, the key of its text in `rules/text`), the input it reads,
 * its config section (`rules.defaults.<config>`, validated by `thresholds`, defaults included) and `judge`,
 * which turns one input into fire levels and a clear condition. Holds, hysteresis, the lifecycle and the
 * journal are the core's.
 */
export interface ConditionRule<I extends InputKind = InputKind, C extends string = string, T = unknown> {
  id: string;
  input: I;
  config: C;
  thresholds: z.ZodType<T>;
  /**
   * An infant rule judged only while the room naps (tummy time while awake is healthy); the nap's end
   * resolves it at once. A room rule about naps puts `napping` into its own fire and clear conditions.
   */
  sleep?: I extends 'wearable' ? boolean : never;
  judge(facts: Facts[I], t: T): Verdict;
}

export const seconds = (s: number) => s * 1000;

export function defineRule<I extends InputKind, C extends string, T>(
  rule: ConditionRule<I, C, T>,
): ConditionRule<I, C, T> {
  return rule;
}

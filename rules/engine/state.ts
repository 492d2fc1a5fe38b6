import type { NapCheckRecord } from '../contracts.ts';
import type { Alert, Severity } from '../../protocol/payloads.ts';

/** An open alert with the timers of its lifecycle; all of it is journalled. */
export interface OpenAlert {
  alert: Alert;
  /** When the condition became true: the value of a duration rule is measured from here. */
  conditionSince?: number;
  nextReminderAt?: number;
  escalateAt?: number;
  /** A warning left unacknowledged becomes critical at this time. */
  criticalAt?: number;
}

export interface TrackerLevel {
  severity: Severity;
  holdMs: number;
  /** When the level's condition last became true; absent while it is false. */
  since?: number;
}

/** The rule timer of one (rule, subject): fire levels with hold times, and a clear condition with its own. */
export interface Tracker {
  rule: Alert['rule'];
  center: string;
  room?: string;
  subject: Alert['subject'];
  levels: TrackerLevel[];
  clearHoldMs: number;
  clearSince?: number;
  /** Last measured value (°C, %, battery) for rules whose value is a reading rather than a duration. */
  value?: number;
  durationValue: boolean;
}

export interface RoomNap {
  center: string;
  napping: boolean;
  since?: number;
  by?: string;
  /** The schedule's answer at its last evaluation: a manual change holds until the schedule changes its mind. */
  scheduled?: boolean;
  /** Next automatic check time per infant while napping. */
  nextCheck: Record<string, number>;
}

/**
 * Everything the engine must keep across a restart, as flat keyed maps so a step's changes can be
 * journalled as (map, key, value) triples and replayed in order.
 */
export interface DurableState {
  meta: Record<string, number>;
  alerts: Record<string, OpenAlert>;
  trackers: Record<string, Tracker>;
  naps: Record<string, RoomNap>;
  baselines: Record<string, number>;
  checks: Record<string, NapCheckRecord>;
  /** The last presses per button, by the button's own timestamp: a QoS 1 redelivery must not re-notify. */
  presses: Record<string, number[]>;
}

export type MapName = keyof DurableState;
export const MAP_NAMES: MapName[] = ['meta', 'alerts', 'trackers', 'naps', 'baselines', 'checks', 'presses'];

/** A journalled change: the map, the key, and the value after the step (null: deleted). */
export type Change = [MapName, string, unknown];

export function emptyState(): DurableState {
  return { meta: {}, alerts: {}, trackers: {}, naps: {}, baselines: {}, checks: {}, presses: {} };
}

export function applyChanges(state: DurableState, changes: Change[]): void {
  for (const [map, key, value] of changes) {
    const target = state[map] as Record<string, unknown> | undefined;
    if (!target) throw new Error(`journal names unknown state map ${String(map)}`);
    if (value === null) delete target[key];
    else target[key] = value;
  }
}

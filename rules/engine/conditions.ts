import type { AlertBase, Alerts } from './alerts.ts';
import { higher } from './alerts.ts';
import type { Core } from './core.ts';
import type { Verdict } from './rule.ts';
import type { Tracker, TrackerLevel } from './state.ts';

type ConditionDue = { at: number; level?: number };

/**
 * The generic condition timer of one (rule, subject): each fire level holds from when its condition last
 * became true, the clear condition holds on its own (hysteresis); the one due first raises, raises the
 * severity, or closes the alert.
 */
export class Conditions {
  constructor(
    private readonly core: Core,
    private readonly alerts: Alerts,
  ) {}

  judge(key: string, base: AlertBase, at: number, verdict: Verdict): void {
    const { store } = this.core;
    const old = store.state.trackers[key];
    const open = store.state.alerts[key];
    const levels: TrackerLevel[] = verdict.levels.map((level, i) => {
      const since = level.active ? (old?.levels[i]?.since ?? at) : undefined;
      return { severity: level.severity, holdMs: level.holdMs, ...(since !== undefined ? { since } : {}) };
    });
    const clearSince = open && verdict.clear ? (old?.clearSince ?? at) : undefined;
    const idle = levels.every((l) => l.since === undefined) && clearSince === undefined;
    if (idle && !open) {
      if (old) store.delete('trackers', key);
      return;
    }
    const { value } = verdict;
    const tracker: Tracker = {
      ...base,
      levels,
      clearHoldMs: verdict.clearHoldMs,
      durationValue: value === undefined,
      ...(clearSince !== undefined ? { clearSince } : {}),
      ...(value !== undefined ? { value } : {}),
    };
    if (!old || !sameTracker(old, tracker)) store.set('trackers', key, tracker);
    else if (value !== undefined && old.value !== value) {
      // Only the live value moved: kept in memory for the next notification, not worth a journal write.
      old.value = value;
    }
    this.core.schedule({ kind: 'condition', id: key });
  }

  /** Forgets a condition's timers (a nap's end for a sleep rule). */
  forget(key: string): void {
    if (this.core.store.state.trackers[key]) this.core.store.delete('trackers', key);
  }

  due(key: string): ConditionDue | undefined {
    const tracker = this.core.store.state.trackers[key];
    if (!tracker || tracker.rule === 'monitoring-lost') return undefined;
    const open = this.core.store.state.alerts[key];
    let best: ConditionDue | undefined;
    tracker.levels.forEach((level, i) => {
      if (level.since === undefined) return;
      if (open && !higher(level.severity, open.alert.severity)) return;
      const at = level.since + level.holdMs;
      if (!best || at < best.at) best = { at, level: i };
    });
    if (open && tracker.clearSince !== undefined) {
      const at = tracker.clearSince + tracker.clearHoldMs;
      if (!best || at < best.at) best = { at };
    }
    return best;
  }

  fire(key: string): void {
    const due = this.due(key);
    if (!due) return;
    const tracker = this.core.store.state.trackers[key]!;
    const open = this.core.store.state.alerts[key];
    if (due.level === undefined) {
      this.alerts.close(key, due.at);
      return;
    }
    const level = tracker.levels[due.level]!;
    if (!open) this.alerts.raise(key, tracker, level.severity, due.at, level.since, tracker.value);
    else this.alerts.changeSeverity(key, open, level.severity, due.at, tracker.value);
  }
}

function sameTracker(a: Tracker, b: Tracker): boolean {
  return (
    a.clearSince === b.clearSince &&
    a.levels.length === b.levels.length &&
    a.levels.every((l, i) => l.since === b.levels[i]?.since && l.severity === b.levels[i]?.severity)
  );
}

import type { AlertTransition, AlertTransitionKind } from '../../protocol/alerts.ts';
import { type Alert, SEVERITIES, type Severity } from '../../protocol/payloads.ts';
import { renderMessage } from '../text/index.ts';
import { type Core, alertId, alertKey, ms } from './core.ts';
import type { OpenAlert, Tracker } from './state.ts';

const rank = (s: Severity) => SEVERITIES.indexOf(s);
/** System alerts about the pipeline, not an infant: for the people who can act on it. */
const SUPERVISORS_ONLY = new Set(['monitoring-degraded']);
export const higher = (a: Severity, b: Severity) => rank(a) > rank(b);

type AlertDue = { at: number; what: 'critical' | 'escalate' | 'remind' };
export type AlertBase = Pick<Tracker, 'rule' | 'center' | 'room' | 'subject'>;

/**
 * The lifecycle of open alerts: raise, update, reminders, escalation, the warning → critical bump, close.
 * One open alert per (rule, subject); every change is a transition with the next sequence number.
 */
export class Alerts {
  readonly #byId = new Map<string, string>();
  /** Called when an alert closes: monitoring lost re-arms its wearable's silence deadline. */
  onClose: (alert: Alert) => void = () => undefined;

  constructor(private readonly core: Core) {
    for (const [key, open] of Object.entries(core.store.state.alerts)) {
      this.#byId.set(open.alert.id, key);
      this.#skipMissedReminders(key, open);
    }
  }

  open(key: string): OpenAlert | undefined {
    return this.core.store.state.alerts[key];
  }

  keyOf(id: string): string | undefined {
    return this.#byId.get(id);
  }

  byId(id: string): OpenAlert | undefined {
    const key = this.#byId.get(id);
    return key ? this.open(key) : undefined;
  }

  /** After a downtime, one reminder stands for all the missed ones; then the cadence goes on from there. */
  #skipMissedReminders(key: string, open: OpenAlert): void {
    const remind = ms(this.core.thresholds(open.alert.center).lifecycle.reminderS[open.alert.severity]);
    const now = this.core.clock();
    if (open.nextReminderAt === undefined || remind <= 0 || open.nextReminderAt + remind > now) return;
    open.nextReminderAt += remind * Math.floor((now - open.nextReminderAt) / remind);
    this.core.store.set('alerts', key, open);
  }

  raise(
    key: string,
    base: AlertBase,
    severity: Severity,
    at: number,
    conditionSince?: number,
    value?: number,
    devices?: string[],
  ): void {
    const fields = {
      rule: base.rule,
      subject: base.subject,
      ...(devices ? { devices } : {}),
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
      message: renderMessage(fields, this.core.fleet()),
    };
    const open: OpenAlert = { alert, ...(conditionSince !== undefined ? { conditionSince } : {}) };
    this.armTimers(open, severity, at);
    this.#byId.set(alert.id, key);
    this.core.store.set('alerts', key, open);
    this.#emit('raised', alert, at);
    this.core.schedule({ kind: 'alert', id: key });
  }

  /** Reminders, escalation and the warning→critical bump, counted from `at` while unacknowledged. */
  armTimers(open: OpenAlert, severity: Severity, at: number): void {
    const life = this.core.thresholds(open.alert.center).lifecycle;
    const remind = ms(life.reminderS[severity]);
    const escalate = ms(life.escalateS[severity]);
    open.nextReminderAt = remind > 0 ? at + remind : undefined;
    open.escalateAt =
      escalate > 0 && !open.alert.escalated ? Math.max(at, open.alert.raisedAt + escalate) : undefined;
    open.criticalAt =
      severity === 'warning' && life.warningToCriticalS > 0 ? at + ms(life.warningToCriticalS) : undefined;
  }

  changeSeverity(key: string, open: OpenAlert, severity: Severity, at: number, value?: number): void {
    const reopen = open.alert.state === 'acknowledged' && higher(severity, open.alert.severity);
    const acknowledged = open.alert.state === 'acknowledged' && !reopen;
    if (!acknowledged) this.armTimers(open, severity, at);
    this.update(key, open, 'updated', at, {
      severity,
      ...(value !== undefined ? { value } : {}),
      ...(reopen ? { state: 'raised', acknowledgedBy: undefined, acknowledgedAt: undefined } : {}),
      notifications: open.alert.notifications + 1,
    });
  }

  acknowledge(key: string, open: OpenAlert, by: string, at: number): void {
    if (open.alert.state === 'acknowledged') return;
    open.nextReminderAt = undefined;
    open.escalateAt = undefined;
    open.criticalAt = undefined;
    this.update(key, open, 'acknowledged', at, {
      state: 'acknowledged',
      acknowledgedBy: by,
      acknowledgedAt: at,
    });
  }

  due(key: string): AlertDue | undefined {
    const open = this.open(key);
    if (!open || open.alert.state === 'acknowledged') return undefined;
    const candidates = [
      { at: open.criticalAt, what: 'critical' as const },
      { at: open.escalateAt, what: 'escalate' as const },
      { at: open.nextReminderAt, what: 'remind' as const },
    ].filter((c): c is AlertDue => c.at !== undefined);
    candidates.sort((a, b) => a.at - b.at);
    return candidates[0];
  }

  fire(key: string): void {
    const due = this.due(key);
    if (!due) return;
    const open = this.open(key)!;
    const at = due.at;
    if (due.what === 'critical') {
      this.changeSeverity(key, open, 'critical', at);
      return;
    }
    if (due.what === 'escalate') {
      open.escalateAt = undefined;
      this.update(key, open, 'escalated', at, {
        state: 'escalated',
        escalated: true,
        notifications: open.alert.notifications + 1,
      });
      return;
    }
    const remind = ms(this.core.thresholds(open.alert.center).lifecycle.reminderS[open.alert.severity]);
    open.nextReminderAt = remind > 0 ? at + remind : undefined;
    this.update(key, open, 'renotified', at, { notifications: open.alert.notifications + 1 });
  }

  close(key: string, at: number, by?: string): Alert {
    const { store } = this.core;
    const open = this.open(key)!;
    const alert = this.#withText(open, {
      ...open.alert,
      state: 'resolved',
      resolvedAt: at,
      updatedAt: at,
      ...(by && !open.alert.acknowledgedBy ? { acknowledgedBy: by, acknowledgedAt: at } : {}),
    });
    store.delete('alerts', key);
    this.#byId.delete(alert.id);
    const tracker = store.state.trackers[key];
    if (tracker) {
      const { clearSince: _cleared, ...rest } = tracker;
      if (rest.levels.every((l) => l.since === undefined)) store.delete('trackers', key);
      else store.set('trackers', key, rest);
    }
    this.#emit('resolved', alert, at);
    this.onClose(alert);
    return alert;
  }

  update(key: string, open: OpenAlert, kind: AlertTransitionKind, at: number, changes: Partial<Alert>): void {
    const merged = { ...open.alert, ...changes, updatedAt: at } as Alert;
    for (const field of ['acknowledgedBy', 'acknowledgedAt'] as const) {
      if (merged[field] === undefined) delete merged[field];
    }
    open.alert = this.#withText(open, merged);
    this.core.store.set('alerts', key, open);
    this.#emit(kind, open.alert, at, kind === 'escalated' ? 'supervisors' : undefined);
    this.core.schedule({ kind: 'alert', id: key });
    this.core.schedule({ kind: 'condition', id: key });
  }

  /** Duration rules report how long the condition has held at this notification; the text follows the value. */
  #withText(open: OpenAlert, alert: Alert): Alert {
    const tracker = this.core.store.state.trackers[alertKey(alert.rule, alert.subject.id)];
    let value = alert.value;
    if (
      open.conditionSince !== undefined &&
      alert.state !== 'resolved' &&
      (!tracker || tracker.durationValue)
    ) {
      value = (alert.updatedAt - open.conditionSince) / 1000;
    } else if (tracker?.value !== undefined && !tracker.durationValue) value = tracker.value;
    const next = value === undefined ? alert : { ...alert, value };
    return { ...next, message: renderMessage(next, this.core.fleet()) };
  }

  #emit(kind: AlertTransitionKind, alert: Alert, at: number, audience?: AlertTransition['audience']) {
    const seq = (this.core.store.state.meta.seq ?? 0) + 1;
    this.core.store.set('meta', 'seq', seq);
    this.core.out().transitions.push({
      seq,
      kind,
      at,
      alert,
      audience: audience ?? (SUPERVISORS_ONLY.has(alert.rule) ? 'supervisors' : 'caregivers'),
    });
  }
}

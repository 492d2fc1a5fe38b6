import { describe, expect, it } from 'vitest';
import { Harness, QUIET_MONITORING, T0 } from '../../test/support/rules/engine.ts';
import { alertId } from './engine.ts';

const S = 1000;
const MIN = 60 * S;

const kinds = (h: Harness, rule: string) =>
  h.transitions
    .filter((t) => t.alert.rule === rule)
    .map((t) => `${t.kind}:${t.alert.severity}:${t.audience}@${(t.at - T0) / 1000}`);

describe('alert lifecycle', () => {
  it('critical: reminders every 30 s and escalation to supervisors at 60 s while unacknowledged', () => {
    const h = new Harness({ rules: QUIET_MONITORING });
    h.press(T0);
    h.at(T0 + 95 * S);
    expect(kinds(h, 'one-key-alarm')).toEqual([
      'raised:critical:caregivers@0',
      'renotified:critical:caregivers@30',
      'escalated:critical:supervisors@60',
      'renotified:critical:caregivers@60',
      'renotified:critical:caregivers@90',
    ]);
    const last = h.transitions.at(-1)!.alert;
    expect(last.notifications).toBe(5);
    expect(last.escalated).toBe(true);
    expect(last.state).toBe('escalated');
  });

  it('warning: reminder and escalation at 5 min, critical after 15 min unacknowledged', () => {
    const h = new Harness({
      rules: {
        defaults: { monitoringLost: { silenceS: 100_000 }, lifecycle: { reminderS: { critical: 0 } } },
      },
    });
    h.nap('r2', 'started', T0);
    h.stream('w-07', T0, T0 + 16 * MIN, 10 * S, { posture: 'side' });
    expect(kinds(h, 'side-sleep')).toEqual([
      'raised:warning:caregivers@60',
      'escalated:warning:supervisors@360',
      'renotified:warning:caregivers@360',
      'renotified:warning:caregivers@660',
      'updated:critical:caregivers@960',
    ]);
  });

  it('acknowledging stops reminders but keeps a condition alert open until the condition clears', () => {
    const h = new Harness({ rules: QUIET_MONITORING });
    h.nap('r2', 'started', T0);
    h.stream('w-07', T0, T0 + 40 * S, S, { posture: 'prone' });
    const id = h.transitions.find((t) => t.alert.rule === 'prone-sleep')!.alert.id;
    const result = h.ack(id, 'teacher-li', T0 + 40 * S);
    expect(result.ok).toBe(true);
    h.stream('w-07', T0 + 41 * S, T0 + 180 * S, S, { posture: 'prone' });
    expect(h.engine.getAlert(id)?.state).toBe('acknowledged');
    expect(h.engine.getAlert(id)?.acknowledgedBy).toBe('teacher-li');
    h.stream('w-07', T0 + 181 * S, T0 + 190 * S, S, { posture: 'supine' });
    expect(kinds(h, 'prone-sleep')).toEqual([
      'raised:critical:caregivers@30',
      'acknowledged:critical:caregivers@40',
      'resolved:critical:caregivers@186',
    ]);
    expect(h.engine.getAlert(id)).toBeUndefined();
  });

  it('the value and text follow the duration: "prone for 35 s"', () => {
    const h = new Harness({
      rules: {
        defaults: { monitoringLost: { silenceS: 100_000 }, lifecycle: { reminderS: { critical: 5 } } },
      },
    });
    h.nap('r2', 'started', T0);
    h.stream('w-07', T0, T0 + 36 * S, S, { posture: 'prone' });
    const reminder = h.transitions.find((t) => t.kind === 'renotified')!;
    expect(reminder.alert.value).toBe(35);
    expect(reminder.alert.message['zh-CN']).toBe('2 号睡眠室 A-07 趴睡已 35 秒');
    expect(reminder.alert.message.en).toBe('Infant A-07 in nap room 2 has been prone for 35 s');
    expect(JSON.stringify(reminder.alert)).not.toContain('王小明');
  });

  it('the alarm re-notifies on a press after acknowledgement and is resolved by staff only', () => {
    const h = new Harness({ rules: QUIET_MONITORING });
    h.press(T0);
    const id = h.transitions[0]!.alert.id;
    h.ack(id, 'teacher-li', T0 + 5 * S);
    h.at(T0 + 50 * S);
    h.press(T0 + 50 * S);
    expect(h.engine.getAlert(id)?.state).toBe('raised');
    expect(h.resolve(id, 'teacher-li', T0 + 52 * S).ok).toBe(true);
    expect(kinds(h, 'one-key-alarm')).toEqual([
      'raised:critical:caregivers@0',
      'acknowledged:critical:caregivers@5',
      'renotified:critical:caregivers@50',
      'resolved:critical:caregivers@52',
    ]);
    expect(h.ack(id, 'x', T0 + 60 * S)).toMatchObject({ ok: false, error: 'not-found' });
  });

  it('refuses to resolve a condition alert by hand', () => {
    const h = new Harness({ rules: QUIET_MONITORING });
    h.wearable('w-07', T0, { battery: 5 });
    const id = h.transitions[0]!.alert.id;
    expect(h.resolve(id, 'x', T0 + S)).toMatchObject({ ok: false, error: 'conflict' });
  });

  it('keeps one open alert per (rule, subject); ids are deterministic from (rule, subject, raise time)', () => {
    const run = () => {
      const h = new Harness({ rules: QUIET_MONITORING });
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 100 * S, S, { posture: 'prone' });
      return h.transitions;
    };
    const a = run();
    const b = run();
    expect(a.map((t) => [t.seq, t.kind, t.alert.id, t.at])).toEqual(
      b.map((t) => [t.seq, t.kind, t.alert.id, t.at]),
    );
    expect(new Set(a.filter((t) => t.alert.rule === 'prone-sleep').map((t) => t.alert.id)).size).toBe(1);
    expect(a[0]!.alert.id).toBe(alertId('prone-sleep', 'a-07', T0 + 30 * S));
    expect(alertId('prone-sleep', 'x'.repeat(64), T0)).toMatch(/^prone-sleep-[0-9a-f]{24}$/);
  });

  it('a severity rise re-opens an acknowledged alert', () => {
    const h = new Harness({ rules: QUIET_MONITORING });
    h.roomStream(T0, T0 + 5 * MIN, 10 * S, { tempC: 25 });
    const id = h.transitions.find((t) => t.alert.rule === 'room-hot')!.alert.id;
    h.ack(id, 'teacher-li', T0 + 5 * MIN);
    h.roomStream(T0 + 5 * MIN + 10 * S, T0 + 7 * MIN, 10 * S, { tempC: 29 });
    const alert = h.engine.getAlert(id)!;
    expect(alert.severity).toBe('critical');
    expect(alert.state).not.toBe('acknowledged');
    expect(alert.acknowledgedBy).toBeUndefined();
  });
});

describe('restoring state', () => {
  it('continues timers and open alerts from a snapshot: same transitions as an uninterrupted run', () => {
    const script = (h: Harness, from: number, to: number) => {
      for (let t = from; t <= to; t += S) {
        h.wearable('w-07', t, { posture: t < T0 + 90 * S ? 'prone' : 'supine' });
        h.wearable('w-08', t);
        h.wearable('w-09', t);
        h.wearable('w-b1', t);
      }
    };
    const whole = new Harness();
    whole.nap('r2', 'started', T0);
    script(whole, T0, T0 + 120 * S);

    const first = new Harness();
    first.nap('r2', 'started', T0);
    script(first, T0, T0 + 20 * S);
    const second = new Harness({ start: T0 + 20 * S, state: first.engine.snapshot() });
    script(second, T0 + 21 * S, T0 + 120 * S);
    const sig = (ts: typeof whole.transitions) => ts.map((t) => `${t.seq}:${t.kind}:${t.alert.id}@${t.at}`);
    expect(sig([...first.transitions, ...second.transitions])).toEqual(sig(whole.transitions));
  });
});

describe('after a downtime', () => {
  it('sends one reminder for the missed ones and goes back on the cadence', () => {
    const h = new Harness({ rules: QUIET_MONITORING });
    h.press(T0);
    const state = h.engine.snapshot();
    const later = new Harness({ rules: QUIET_MONITORING, start: T0 + 10 * MIN + 5 * S, state });
    later.at(T0 + 10 * MIN + 5 * S);
    later.at(T0 + 10 * MIN + 40 * S);
    expect(later.transitions.map((t) => `${t.kind}@${(t.at - T0) / 1000}`)).toEqual([
      'escalated@60',
      'renotified@600',
      'renotified@630',
    ]);
  });
});

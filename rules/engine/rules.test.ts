import { describe, expect, it } from 'vitest';
import { FleetIndex, fleetSchema } from '../../protocol/fleet.ts';
import { Harness, T0, fleetDoc } from '../../test/support/rules/engine.ts';

const S = 1000;
const MIN = 60 * S;
/** Rule tests watch raise/update/resolve only; the lifecycle has its own tests. */
const RULES_ONLY = {
  defaults: {
    monitoringLost: { silenceS: 100_000 },
    lifecycle: {
      reminderS: { critical: 0, warning: 0 },
      escalateS: { critical: 0, warning: 0 },
      warningToCriticalS: 0,
    },
  },
};

interface Case {
  name: string;
  rule: string;
  run(h: Harness): void;
  expected: string[];
}

const cases: Case[] = [
  {
    name: 'prone: fires exactly at 30 s on the timer, resolves after 5 s non-prone',
    rule: 'prone-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.wearable('w-07', T0 + 1 * S, { posture: 'prone' });
      h.at(T0 + 30_999);
      expect(h.of('prone-sleep')).toEqual([]);
      h.at(T0 + 31 * S);
      h.stream('w-07', T0 + 40 * S, T0 + 44 * S, S, { posture: 'supine' });
      h.at(T0 + 44_999);
      expect(h.of('prone-sleep')).toEqual(['raised:critical@31']);
      h.at(T0 + 60 * S);
    },
    expected: ['raised:critical@31', 'resolved:critical@45'],
  },
  {
    name: 'prone: a short turn resets the hold (hysteresis), a short turn while open does not resolve',
    rule: 'prone-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 20 * S, S, { posture: 'prone' });
      h.wearable('w-07', T0 + 21 * S, { posture: 'side' });
      h.stream('w-07', T0 + 22 * S, T0 + 60 * S, S, { posture: 'prone' });
      h.stream('w-07', T0 + 61 * S, T0 + 63 * S, S, { posture: 'supine' });
      h.stream('w-07', T0 + 64 * S, T0 + 70 * S, S, { posture: 'prone' });
    },
    expected: ['raised:critical@52'],
  },
  {
    name: 'prone: not outside a nap session',
    rule: 'prone-sleep',
    run(h) {
      h.stream('w-07', T0, T0 + 120 * S, S, { posture: 'prone' });
    },
    expected: [],
  },
  {
    name: 'prone: a nap starting while prone counts from the start; ending the nap resolves',
    rule: 'prone-sleep',
    run(h) {
      h.wearable('w-07', T0, { posture: 'prone' });
      h.nap('r2', 'started', T0 + 10 * S);
      h.at(T0 + 50 * S);
      h.nap('r2', 'ended', T0 + 55 * S);
    },
    expected: ['raised:critical@40', 'resolved:critical@55'],
  },
  {
    name: 'prone: not for an infant of 12 months or more',
    rule: 'prone-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-08', T0, T0 + 90 * S, S, { posture: 'prone' });
    },
    expected: [],
  },
  {
    name: 'prone: warning for an infant who rolls both ways',
    rule: 'prone-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-09', T0, T0 + 40 * S, S, { posture: 'prone' });
    },
    expected: ['raised:warning@30'],
  },
  {
    name: 'no movement: 20 s still while worn; breathing (0.03–0.06) does not clear it; 0.2 for 5 s does',
    rule: 'no-movement',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 25 * S, S, { motion: 0.01 });
      h.stream('w-07', T0 + 26 * S, T0 + 40 * S, S, { motion: 0.03 });
      h.stream('w-07', T0 + 41 * S, T0 + 100 * S, S, { motion: 0.06 });
      h.stream('w-07', T0 + 101 * S, T0 + 110 * S, S, { motion: 0.2 });
    },
    expected: ['raised:critical@20', 'resolved:critical@106'],
  },
  {
    name: 'no movement: not while the wearable is off',
    rule: 'no-movement',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 40 * S, S, { motion: 0, worn: false });
    },
    expected: [],
  },
  {
    name: 'side sleep: 60 s under 6 months, warning',
    rule: 'side-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 70 * S, S, { posture: 'side' });
      h.stream('w-07', T0 + 71 * S, T0 + 80 * S, S, { posture: 'supine' });
    },
    expected: ['raised:warning@60', 'resolved:warning@76'],
  },
  {
    name: 'side sleep: not at 6 months (born in April, on 22 November)',
    rule: 'side-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-09', T0, T0 + 90 * S, S, { posture: 'side' });
    },
    expected: [],
  },
  {
    name: 'room too hot: warning after 5 min > 24, critical after 60 s > 28, clears ≤ 23.5 for 60 s',
    rule: 'room-hot',
    run(h) {
      h.roomStream(T0, T0 + 6 * MIN, 10 * S, { tempC: 25 });
      h.roomStream(T0 + 6 * MIN + 10 * S, T0 + 8 * MIN, 10 * S, { tempC: 29 });
      h.roomStream(T0 + 8 * MIN + 10 * S, T0 + 10 * MIN, 10 * S, { tempC: 23.8 });
      h.roomStream(T0 + 10 * MIN + 10 * S, T0 + 12 * MIN, 10 * S, { tempC: 23 });
    },
    expected: ['raised:warning@300', 'updated:critical@430', 'resolved:critical@670'],
  },
  {
    name: 'room too cold: 5 min < 16; 16.2 holds it open; 16.5 for 60 s clears',
    rule: 'room-cold',
    run(h) {
      h.roomStream(T0, T0 + 6 * MIN, 10 * S, { tempC: 15 });
      h.roomStream(T0 + 6 * MIN + 10 * S, T0 + 9 * MIN, 10 * S, { tempC: 16.2 });
      h.roomStream(T0 + 9 * MIN + 10 * S, T0 + 11 * MIN, 10 * S, { tempC: 16.5 });
    },
    expected: ['raised:warning@300', 'resolved:warning@610'],
  },
  {
    name: 'humidity: 10 min outside 30–60; 59.5 is not back inside the band; 5 min at 50 clears',
    rule: 'humidity',
    run(h) {
      h.roomStream(T0, T0 + 11 * MIN, 30 * S, { humidity: 65 });
      h.roomStream(T0 + 11 * MIN + 30 * S, T0 + 20 * MIN, 30 * S, { humidity: 59.5 });
      h.roomStream(T0 + 20 * MIN + 30 * S, T0 + 27 * MIN, 30 * S, { humidity: 50 });
    },
    expected: ['raised:info@600', 'resolved:info@1530'],
  },
  {
    name: 'skin temperature: after a 15 min warm-up, +1 °C over baseline for 5 min; back for 10 min',
    rule: 'skin-temp-rise',
    run(h) {
      h.stream('w-07', T0, T0 + 15 * MIN, 10 * S, { skinTempC: 36.5 });
      h.stream('w-07', T0 + 15 * MIN + 10 * S, T0 + 22 * MIN, 10 * S, { skinTempC: 37.6 });
      h.stream('w-07', T0 + 22 * MIN + 10 * S, T0 + 34 * MIN, 10 * S, { skinTempC: 36.6 });
    },
    expected: ['raised:warning@1210', 'resolved:warning@1930'],
  },
  {
    name: 'skin temperature: nothing during the warm-up even at 38.5',
    rule: 'skin-temp-rise',
    run(h) {
      h.stream('w-07', T0, T0 + 14 * MIN, 10 * S, { skinTempC: 38.5 });
    },
    expected: [],
  },
  {
    name: 'CO₂ too high during a nap: > 1,500 ppm for 60 s, warning; ≤ 1,400 for 60 s clears',
    rule: 'co2-high',
    run(h) {
      h.roomStream(T0, T0 + 2 * MIN, 10 * S, { co2ppm: 1800 });
      h.nap('r2', 'started', T0 + 2 * MIN + 5 * S);
      h.roomStream(T0 + 2 * MIN + 10 * S, T0 + 4 * MIN, 10 * S, { co2ppm: 1800 });
      // 1,450 is inside the hysteresis band: it keeps the alert open.
      h.roomStream(T0 + 4 * MIN + 10 * S, T0 + 6 * MIN, 10 * S, { co2ppm: 1450 });
      h.roomStream(T0 + 6 * MIN + 10 * S, T0 + 8 * MIN, 10 * S, { co2ppm: 1300 });
    },
    expected: ['raised:warning@190', 'resolved:warning@430'],
  },
  {
    name: 'CO₂: not outside a nap; the nap ending clears it',
    rule: 'co2-high',
    run(h) {
      h.nap('r2', 'started', T0);
      h.roomStream(T0, T0 + 2 * MIN, 10 * S, { co2ppm: 2000 });
      h.nap('r2', 'ended', T0 + 2 * MIN + 5 * S);
      h.roomStream(T0 + 2 * MIN + 10 * S, T0 + 5 * MIN, 10 * S, { co2ppm: 2000 });
    },
    expected: ['raised:warning@60', 'resolved:warning@190'],
  },
  {
    name: 'skin temperature: ≥ 38.0 °C absolute fires even under +1 °C; back under 37.8 for 10 min clears',
    rule: 'skin-temp-rise',
    run(h) {
      h.stream('w-07', T0, T0 + 15 * MIN, 10 * S, { skinTempC: 37.3 });
      // +0.6 over the baseline and under 38.0: nothing.
      h.stream('w-07', T0 + 15 * MIN + 10 * S, T0 + 21 * MIN, 10 * S, { skinTempC: 37.9 });
      // +0.8 over the baseline, but at 38.1 absolute.
      h.stream('w-07', T0 + 21 * MIN + 10 * S, T0 + 27 * MIN, 10 * S, { skinTempC: 38.1 });
      // 37.85 is inside the 0.2 °C hysteresis band: it keeps the alert open.
      h.stream('w-07', T0 + 27 * MIN + 10 * S, T0 + 39 * MIN, 10 * S, { skinTempC: 37.85 });
      h.stream('w-07', T0 + 39 * MIN + 10 * S, T0 + 50 * MIN, 10 * S, { skinTempC: 37.7 });
    },
    expected: ['raised:warning@1570', 'resolved:warning@2950'],
  },
  {
    name: 'skin temperature: taking the wearable off forgets the baseline; a new warm-up starts when worn',
    rule: 'skin-temp-rise',
    run(h) {
      h.stream('w-07', T0, T0 + 15 * MIN, 10 * S, { skinTempC: 36.0 });
      h.stream('w-07', T0 + 15 * MIN + 10 * S, T0 + 16 * MIN, 10 * S, { worn: false, skinTempC: 30 });
      // 37.2 is +1.2 over the old baseline, but the new warm-up is still settling.
      h.stream('w-07', T0 + 16 * MIN + 10 * S, T0 + 30 * MIN, 10 * S, { skinTempC: 37.2 });
    },
    expected: [],
  },
  {
    name: 'room too hot: straight to critical after 60 s > 28',
    rule: 'room-hot',
    run(h) {
      h.roomStream(T0, T0 + 2 * MIN, 10 * S, { tempC: 29 });
    },
    expected: ['raised:critical@60'],
  },
  {
    name: 'humidity: below 30 for 10 min fires too; 30.5 is not back inside',
    rule: 'humidity',
    run(h) {
      h.roomStream(T0, T0 + 11 * MIN, 30 * S, { humidity: 25 });
      h.roomStream(T0 + 11 * MIN + 30 * S, T0 + 20 * MIN, 30 * S, { humidity: 30.5 });
    },
    expected: ['raised:info@600'],
  },
  {
    name: 'no movement: a movement before the hold restarts it',
    rule: 'no-movement',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 15 * S, S, { motion: 0.01 });
      h.wearable('w-07', T0 + 16 * S, { motion: 0.03 });
      h.stream('w-07', T0 + 17 * S, T0 + 40 * S, S, { motion: 0.01 });
    },
    expected: ['raised:critical@37'],
  },
  {
    name: 'side sleep: ending the nap resolves it',
    rule: 'side-sleep',
    run(h) {
      h.nap('r2', 'started', T0);
      h.stream('w-07', T0, T0 + 70 * S, S, { posture: 'side' });
      h.nap('r2', 'ended', T0 + 75 * S);
      h.stream('w-07', T0 + 76 * S, T0 + 150 * S, S, { posture: 'side' });
    },
    expected: ['raised:warning@60', 'resolved:warning@75'],
  },
  {
    name: 'low battery: from a device status message too',
    rule: 'low-battery',
    run(h) {
      const status = (ts: number, battery: number) =>
        h.send({
          type: 'status',
          center: 'ca',
          device: 'btn-2',
          status: { v: 1, ts, state: 'online', battery },
        });
      h.now = T0;
      status(T0, 12);
      h.now = T0 + 60 * S;
      status(T0 + 60 * S, 25);
    },
    expected: ['raised:info@0', 'resolved:info@60'],
  },
  {
    name: 'one-key alarm: at once, critical; a repeat press re-notifies; a duplicate is ignored',
    rule: 'one-key-alarm',
    run(h) {
      h.press(T0 + 5 * S);
      h.press(T0 + 5 * S);
      h.press(T0 + 9 * S);
      const id = h.transitions[0]!.alert.id;
      expect(h.resolve(id, 'teacher-li', T0 + 12 * S).ok).toBe(true);
    },
    expected: ['raised:critical@5', 'renotified:critical@9', 'resolved:critical@12'],
  },
  {
    name: 'wearable off: not worn for 30 s; worn again resolves at once',
    rule: 'wearable-off',
    run(h) {
      h.stream('w-07', T0, T0 + 40 * S, S, { worn: false });
      h.wearable('w-07', T0 + 41 * S, { worn: true });
      h.stream('w-07', T0 + 50 * S, T0 + 90 * S, S, { posture: 'unknown', motion: 0 });
    },
    expected: ['raised:warning@30', 'resolved:warning@41', 'raised:warning@80'],
  },
  {
    name: 'low battery: < 15 at once; 17 stays; ≥ 20 clears',
    rule: 'low-battery',
    run(h) {
      h.wearable('w-07', T0, { battery: 14 });
      h.wearable('w-07', T0 + S, { battery: 17 });
      h.wearable('w-07', T0 + 2 * S, { battery: 20 });
    },
    expected: ['raised:info@0', 'resolved:info@2'],
  },
];

describe('rules (the rules table of docs/design.md), fake clock', () => {
  it.each(cases)('$name', ({ rule, run, expected }) => {
    const h = new Harness({ rules: RULES_ONLY });
    run(h);
    expect(h.of(rule)).toEqual(expected);
  });
});

describe('ages round towards younger', () => {
  it('an infant of "12 calendar months" who may be 11 months and some days old gets the prone alert', () => {
    const h = new Harness({ rules: RULES_ONLY });
    const doc = structuredClone(fleetDoc);
    doc.infants.find((i) => i.id === 'a-08')!.birthMonth = '2025-11';
    h.engine.setFleet(new FleetIndex(fleetSchema.parse(doc)));
    h.nap('r2', 'started', T0);
    h.stream('w-08', T0, T0 + 40 * S, S, { posture: 'prone' });
    expect(h.of('prone-sleep')).toEqual(['raised:critical@30']);
  });
});

describe('monitoring lost', () => {
  const rules = { defaults: { lifecycle: RULES_ONLY.defaults.lifecycle } };

  it('catches a wearable that never reported, warning outside a nap, critical once the room naps', () => {
    const h = new Harness({ rules });
    for (let t = T0; t <= T0 + 40 * S; t += 5 * S) {
      for (const device of ['w-08', 'w-09', 'w-b1']) h.wearable(device, t);
    }
    expect(h.of('monitoring-lost')).toEqual(['raised:warning@30']);
    expect(h.transitions.find((t) => t.alert.rule === 'monitoring-lost')?.alert.subject).toEqual({
      kind: 'infant',
      id: 'a-07',
    });
    h.nap('r2', 'started', T0 + 45 * S);
    expect(h.of('monitoring-lost')).toEqual(['raised:warning@30', 'updated:critical@45']);
  });

  it('resolves after readings resume for 10 s; a new gap restarts the count', () => {
    const h = new Harness({ rules: { defaults: { ...rules.defaults, monitoringLost: { silenceS: 30 } } } });
    const w07 = (t: number) => t === T0 || (t >= T0 + 60 * S && t <= T0 + 65 * S) || t >= T0 + 110 * S;
    for (let t = T0; t <= T0 + 125 * S; t += S) {
      // Its peers keep reporting: only A-07's wearable is silent.
      if ((t - T0) % (5 * S) === 0) for (const peer of ['w-08', 'w-09', 'w-b1']) h.wearable(peer, t);
      if (w07(t)) h.wearable('w-07', t);
    }
    const mine = h.transitions.filter((t) => t.alert.subject.id === 'a-07');
    expect(mine.map((t) => `${t.kind}@${(t.at - T0) / 1000}`)).toEqual(['raised@30', 'resolved@120']);
  });

  it('raises on a last-will offline status, stamped at the will', () => {
    const h = new Harness({ rules });
    h.wearable('w-07', T0);
    h.now = T0 + 3 * S;
    h.send({
      type: 'status',
      center: 'ca',
      device: 'w-07',
      status: { v: 1, ts: T0 + 3 * S, state: 'offline' },
    });
    // Gathered for 2 s with any other will of the centre, then raised as of the will.
    h.at(T0 + 5 * S);
    const mine = h.transitions.filter((t) => t.alert.subject.id === 'a-07');
    expect(mine.map((t) => `${t.kind}@${(t.at - T0) / 1000}`)).toEqual(['raised@3']);
  });
});

describe('input order', () => {
  it('ignores readings older than or as old as the latest, and counts them', () => {
    const h = new Harness({ rules: RULES_ONLY });
    h.nap('r2', 'started', T0);
    h.wearable('w-07', T0 + 10 * S, { posture: 'prone' });
    const late = h.wearable('w-07', T0 + 5 * S, { posture: 'supine' });
    const dup = h.wearable('w-07', T0 + 10 * S, { posture: 'supine' });
    expect(late.stale + dup.stale).toBe(2);
    h.at(T0 + 40 * S);
    expect(h.of('prone-sleep')).toEqual(['raised:critical@40']);
  });

  it('judges the reading in device time: a late-arriving reading before the deadline still counts', () => {
    const h = new Harness({ rules: RULES_ONLY });
    h.nap('r2', 'started', T0);
    h.wearable('w-07', T0, { posture: 'prone' });
    h.now = T0 + 29 * S;
    h.send({
      type: 'reading',
      center: 'ca',
      reading: {
        type: 'wearable',
        device: 'w-07',
        reading: {
          ts: T0 + 28 * S,
          seq: 99,
          posture: 'supine',
          skinTempC: 36,
          motion: 0.3,
          worn: true,
          battery: 80,
        },
      },
    });
    h.at(T0 + 40 * S);
    expect(h.of('prone-sleep')).toEqual([]);
  });
});

describe('nap schedule and checks', () => {
  it('starts and ends a room nap from the registry schedule in the centre timezone', () => {
    const h = new Harness({ rules: QUIET_MONITORING_RULES });
    const naps = () =>
      h.outputs.flatMap((o) => o.naps).map((n) => `${n.state}:${n.source}@${(n.at - T0) / MIN}`);
    h.at(T0 + 9 * MIN);
    expect(naps()).toEqual([]);
    h.at(T0 + 25 * MIN);
    expect(naps()).toEqual(['started:schedule@10', 'ended:schedule@20']);
    expect(h.engine.nap('r3')?.napping).toBe(false);
  });

  it('writes a check per napping infant on the age cadence (5 min under 1, 10 at 1, 15 at 2+)', () => {
    const h = new Harness({ rules: QUIET_MONITORING_RULES });
    h.nap('r2', 'started', T0);
    h.wearable('w-07', T0 + S, { posture: 'side' });
    h.at(T0 + 20 * MIN);
    const checks = h.outputs.flatMap((o) => o.checks);
    const by = (infant: string) => checks.filter((c) => c.infant === infant).map((c) => (c.at - T0) / MIN);
    expect(by('a-07')).toEqual([0, 5, 10, 15, 20]);
    expect(by('a-08')).toEqual([0, 10, 20]);
    expect(checks.find((c) => c.infant === 'a-07' && c.at === T0 + 5 * MIN)?.posture).toBe('side');
    const confirmed = h.engine.confirmCheck('ca', checks[0]!.id, 'teacher-li', T0 + 21 * MIN);
    expect(confirmed?.confirmedBy).toBe('teacher-li');
    expect(h.engine.confirmCheck('other', checks[0]!.id, 'x')).toBeUndefined();
  });
});

const QUIET_MONITORING_RULES = RULES_ONLY;

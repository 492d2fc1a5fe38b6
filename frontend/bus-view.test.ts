import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '../protocol/alerts.ts';
import type { Alert } from '../protocol/payloads.ts';
import { topics } from '../protocol/topics.ts';
import { BusView, type ViewEvent } from './bus-view.ts';

const T = Date.UTC(2026, 11, 1, 4, 0, 0);
const alert = (over: Partial<Alert> = {}): Alert => ({
  v: 1,
  id: 'a1',
  center: 'c1',
  room: 'r1',
  rule: 'prone-sleep',
  severity: 'critical',
  state: 'raised',
  subject: { kind: 'infant', id: 'i1' },
  raisedAt: T,
  updatedAt: T,
  escalated: false,
  notifications: 1,
  message: { 'zh-CN': '趴睡', en: 'prone' },
  ...over,
});
const transition = (seq: number, kind: AlertTransition['kind'], a: Alert): AlertTransition => ({
  seq,
  kind,
  at: a.updatedAt,
  alert: a,
  audience: 'caregivers',
});
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function view(keep = 100) {
  const events: ViewEvent[] = [];
  return { view: new BusView(keep, (e) => events.push(e)), events };
}

describe('BusView: what a front end knows, from the bus alone', () => {
  it('takes open alerts from retained states and transitions, and drops a resolved one', () => {
    const { view: v, events } = view();
    v.receive(topics.alert('c1', 'a0'), json(alert({ id: 'a0' })));
    const raised = transition(7, 'raised', alert());
    v.receive(topics.alertTransition('c1', 'a1'), json(raised));
    expect([...v.open.keys()].sort()).toEqual(['a0', 'a1']);
    const resolved = transition(8, 'resolved', alert({ state: 'resolved', resolvedAt: T + 1 }));
    v.receive(topics.alertTransition('c1', 'a1'), json(resolved));
    v.receive(topics.alert('c1', 'a0'), Buffer.alloc(0));
    expect(v.open.size).toBe(0);
    expect(v.recent.map((t) => t.seq)).toEqual([7, 8]);
    expect(events.filter((e) => e.type === 'transition')).toHaveLength(2);
  });

  it('never lets a late retained state override a transition, and passes a redelivered transition on once', () => {
    const { view: v, events } = view();
    const acked = alert({ state: 'acknowledged', acknowledgedBy: 'li', acknowledgedAt: T + 5 });
    v.receive(topics.alertTransition('c1', 'a1'), json(transition(3, 'acknowledged', acked)));
    v.receive(topics.alert('c1', 'a1'), json(alert()));
    v.receive(topics.alertTransition('c1', 'a1'), json(transition(3, 'acknowledged', acked)));
    expect(v.open.get('a1')?.state).toBe('acknowledged');
    expect(v.recent).toHaveLength(1);
    expect(events).toHaveLength(1);
  });

  it('keeps the last `keep` transitions', () => {
    const { view: v } = view(100);
    for (let seq = 1; seq <= 150; seq++)
      v.receive(topics.alertTransition('c1', 'a1'), json(transition(seq, 'renotified', alert())));
    expect(v.recent).toHaveLength(100);
    expect(v.recent[0]?.seq).toBe(51);
  });

  it('refuses and counts what does not parse or does not belong to its topic', () => {
    const { view: v, events } = view();
    v.receive(topics.alert('c1', 'a1'), Buffer.from('{not json'));
    v.receive(topics.alert('c1', 'a2'), json(alert({ id: 'a1' })));
    v.receive(topics.alertTransition('c2', 'a1'), json(transition(1, 'raised', alert())));
    v.receive(topics.nap('c1', 'r1'), json({ v: 1, state: 'sleeping' }));
    v.receive('cw/v1/c1/other', json({}));
    expect(v.refused).toBe(5);
    expect([v.open.size, v.recent.length, v.naps.size, events.length]).toEqual([0, 0, 0, 0]);
  });

  it('follows room nap states and tells the board', () => {
    const { view: v, events } = view();
    v.receive(topics.nap('c1', 'r1'), json({ v: 1, ts: T, state: 'started', by: 'li' }));
    expect(v.naps.get('r1')?.state).toBe('started');
    expect(events).toEqual([{ type: 'nap', center: 'c1' }]);
  });
});

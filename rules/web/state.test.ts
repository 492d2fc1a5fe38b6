import { describe, expect, it } from 'vitest';
import type { AlertTransition, AlertTransitionKind } from '../../protocol/alerts.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { applyAnswer, applySnapshot, applyTransition, initialState, ordered } from './state.ts';

function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    v: 1,
    id,
    center: 'ca',
    room: 'ca-r1',
    rule: 'one-key-alarm',
    severity: 'critical',
    state: 'raised',
    subject: { kind: 'device', id: 'btn-1' },
    raisedAt: 1_000,
    updatedAt: 1_000,
    escalated: false,
    notifications: 1,
    message: { 'zh-CN': '报警', en: 'alarm' },
    ...over,
  };
}

const transition = (seq: number, kind: AlertTransitionKind, a: Alert): AlertTransition => ({
  seq,
  kind,
  at: a.updatedAt,
  alert: a,
  audience: 'caregivers',
});

const ids = (state: ReturnType<typeof initialState>) => [...state.alerts.keys()].sort();

describe('caregiver page state', () => {
  it('applies transitions in sequence and ignores one replayed after a newer one', () => {
    const state = initialState('en');
    applyTransition(state, transition(1, 'raised', alert('a')));
    applyTransition(
      state,
      transition(2, 'acknowledged', alert('a', { state: 'acknowledged', updatedAt: 2 })),
    );
    applyTransition(state, transition(1, 'raised', alert('a')));
    expect(state.alerts.get('a')?.state).toBe('acknowledged');
    applyTransition(state, transition(3, 'resolved', alert('a', { state: 'resolved' })));
    expect(ids(state)).toEqual([]);
    expect(state.lastSeq).toBe(3);
  });

  it('takes a full list as the truth for what the stream had delivered when it was asked for', () => {
    const state = initialState('en');
    applyTransition(state, transition(1, 'raised', alert('old')));
    applyTransition(state, transition(2, 'raised', alert('gone')));
    const seqAtRequest = state.lastSeq!;
    // While the request was out: one alert raised, one resolved. The list was made before either.
    applyTransition(state, transition(3, 'raised', alert('new')));
    applyTransition(state, transition(4, 'resolved', alert('old', { state: 'resolved' })));
    applySnapshot(state, [alert('old'), alert('missed')], seqAtRequest);
    // `gone` is not in the list (resolved while the stream was away), `missed` was never streamed,
    // `new` and the resolution of `old` are newer than the list and stand.
    expect(ids(state)).toEqual(['missed', 'new']);
    // The next list, asked for after all of that, is the whole truth again.
    applySnapshot(state, [alert('new'), alert('old')], state.lastSeq!);
    expect(ids(state)).toEqual(['new', 'old']);
  });

  it("keeps the stream's newer version over an action's older answer", () => {
    const state = initialState('en');
    applyTransition(state, transition(1, 'raised', alert('a')));
    applyTransition(state, transition(2, 'renotified', alert('a', { notifications: 2, updatedAt: 5 })));
    applyAnswer(state, alert('a', { state: 'acknowledged', updatedAt: 4 }));
    expect(state.alerts.get('a')?.notifications).toBe(2);
    applyAnswer(state, alert('a', { state: 'resolved', updatedAt: 6 }));
    expect(ids(state)).toEqual([]);
  });

  it('orders the most severe first, then the unacknowledged, then the oldest', () => {
    const list = ordered([
      alert('warn', { severity: 'warning', raisedAt: 1 }),
      alert('acked', { state: 'acknowledged', raisedAt: 2 }),
      alert('late', { raisedAt: 5 }),
      alert('early', { raisedAt: 3 }),
    ]);
    expect(list.map((a) => a.id)).toEqual(['early', 'late', 'acked', 'warn']);
  });
});

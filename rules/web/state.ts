import type { AlertTransition } from '../../protocol/alerts.ts';
import type { Alert, Locale } from '../../protocol/payloads.ts';
import type { NapCheckRecord } from '../contracts.ts';
import type { Api, BoardResponse, Me } from './api.ts';

/** Past this without a good board refresh or with the stream down, the page says its data may be old. */
const STALE_AFTER_MS = 12_000;

interface Sheet {
  room: string;
  day: string;
  records: NapCheckRecord[];
}

/** Everything the page shows; views read it, only the actions and the stream change it. */
export interface State {
  api?: Api;
  me?: Me;
  locale: Locale;
  board?: BoardResponse;
  /** Wall-clock time of the last good board refresh. */
  boardAt: number;
  alerts: Map<string, Alert>;
  /** Sequence number of the last transition applied per alert id, resolved ones included. */
  alertSeq: Map<string, number>;
  lastSeq?: number;
  streamOpen: boolean;
  error?: string;
  loginError?: string;
  sheet?: Sheet;
}

export function initialState(locale: Locale): State {
  return { locale, boardAt: 0, alerts: new Map(), alertSeq: new Map(), streamOpen: false };
}

/** Holds the state and asks for one render per burst of changes, however many arrive in a tick. */
export class Store {
  private queued = false;

  constructor(
    readonly state: State,
    private readonly render: () => void,
  ) {}

  update(change: (state: State) => void): void {
    change(this.state);
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.render();
    });
  }
}

const severityRank = { info: 0, warning: 1, critical: 2 } as const;

/** Most severe first, then the unacknowledged, then the oldest: the order a caregiver should act in. */
export function ordered(alerts: Iterable<Alert>): Alert[] {
  return [...alerts].sort(
    (a, b) =>
      severityRank[b.severity] - severityRank[a.severity] ||
      Number(a.state === 'acknowledged') - Number(b.state === 'acknowledged') ||
      a.raisedAt - b.raisedAt,
  );
}

export function unacknowledged(alert: Alert): boolean {
  return alert.state === 'raised' || alert.state === 'escalated';
}

export function isStale(state: State, now = Date.now()): boolean {
  return !state.streamOpen || now - state.boardAt > STALE_AFTER_MS;
}

/** A room's open alerts come from the alert stream, so a tile turns red with the alert, not a poll later. */
export function roomAlerts(state: State, room: string): Alert[] {
  return ordered([...state.alerts.values()].filter((a) => a.room === room));
}

/** One transition from the stream; an older one than already applied (a replayed backlog) changes nothing. */
export function applyTransition(state: State, transition: AlertTransition): void {
  const { alert, seq } = transition;
  state.lastSeq = Math.max(state.lastSeq ?? 0, seq);
  if ((state.alertSeq.get(alert.id) ?? -1) >= seq) return;
  state.alertSeq.set(alert.id, seq);
  if (transition.kind === 'resolved') state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
}

/**
 * A full list from `/api/alerts`, requested when the stream had delivered up to `seqAtRequest`: the server
 * had applied all of those, so the list replaces them; a transition that arrived while the request was out
 * may be newer than the list and is kept as the stream gave it.
 */
export function applySnapshot(state: State, alerts: Alert[], seqAtRequest: number): void {
  const next = new Map(alerts.map((a) => [a.id, a]));
  for (const [id, seq] of state.alertSeq) {
    if (seq <= seqAtRequest) {
      state.alertSeq.delete(id);
      continue;
    }
    const live = state.alerts.get(id);
    if (live) next.set(id, live);
    else next.delete(id);
  }
  state.alerts = next;
}

/** Replaces an alert with the server's answer to an action, unless the stream already brought a newer one. */
export function applyAnswer(state: State, alert: Alert): void {
  const current = state.alerts.get(alert.id);
  if (current && current.updatedAt > alert.updatedAt) return;
  if (alert.state === 'resolved') state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
}

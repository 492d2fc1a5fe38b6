import type { Alert } from './payloads.ts';

/**
 * What the rules engine emits and every alert channel consumes. `kind` says why a channel is being told:
 * a new alert, a reminder or repeated alarm press (`renotified`), a severity bump or escalation to
 * supervisors, an acknowledgement, or the end of the alert. `alert` is the state after the transition.
 */
export type AlertTransitionKind =
  | 'raised'
  | 'updated'
  | 'renotified'
  | 'escalated'
  | 'acknowledged'
  | 'resolved';

export interface AlertTransition {
  /** Monotonic per rules process across restarts (journalled): SSE event ids and resumption use it. */
  seq: number;
  kind: AlertTransitionKind;
  /** Device time of the transition (ms). */
  at: number;
  alert: Alert;
  /** Who should hear it: caregivers of the centre, or supervisors too (escalations). */
  audience: 'caregivers' | 'supervisors';
}

/**
 * An alert delivery channel (MQTT, SSE, webhook, InfluxDB history). Every channel passes the shared
 * contract suite in rules/channels/channel-contract.ts: `deliver` never throws and never blocks the
 * caller on a slow peer; `close` flushes what it holds.
 */
export interface AlertChannel {
  readonly name: string;
  deliver(transition: AlertTransition): void;
  close(): Promise<void>;
}

export type CommandResult =
  | { ok: true; alert: Alert }
  | { ok: false; error: 'not-found' | 'forbidden' | 'conflict'; message: string };

/**
 * What the HTTP API and the MQTT ack listener need from the rules service. Scoping by centre happens in
 * the HTTP layer; this interface trusts its caller.
 */
export interface AlertService {
  /** Open alerts (and, with `includeResolved`, recent resolved ones), optionally of one centre. */
  list(filter?: { center?: string; includeResolved?: boolean }): Alert[];
  get(id: string): Alert | undefined;
  acknowledge(id: string, by: string, at?: number): CommandResult;
  /** Staff close an alert that has no condition to clear (the one-key alarm). */
  resolve(id: string, by: string, at?: number): CommandResult;
  /** Transitions after `afterSeq` still held in memory, for SSE `Last-Event-ID` resumption. */
  transitionsSince(afterSeq: number, center?: string): AlertTransition[];
  subscribe(listener: (transition: AlertTransition) => void): () => void;
}

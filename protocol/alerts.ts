import { z } from 'zod';
import { type Alert, alertSchema } from './payloads.ts';

/**
 * What the rules engine emits and every alert channel consumes. `kind` says why a channel is being told:
 * a new alert, a reminder or repeated alarm press (`renotified`), a severity bump or escalation to
 * supervisors, an acknowledgement, or the end of the alert. `alert` is the state after the transition.
 */
export const ALERT_TRANSITION_KINDS = [
  'raised',
  'updated',
  'renotified',
  'escalated',
  'acknowledged',
  'resolved',
] as const;
export type AlertTransitionKind = (typeof ALERT_TRANSITION_KINDS)[number];

/** Also the payload of `cw/v1/{center}/alerts/{id}/transition`, which feeds the alert front ends. */
export const alertTransitionSchema = z.object({
  /**
   * Monotonic per rules process across restarts (journalled). A centre is owned by one rules partition,
   * so within a centre it orders transitions wherever they are read: SSE event ids use it.
   */
  seq: z.int().min(0),
  kind: z.enum(ALERT_TRANSITION_KINDS),
  /** Device time of the transition (ms). */
  at: z.number(),
  alert: alertSchema,
  /** Who should hear it: caregivers of the centre, or supervisors too (escalations). */
  audience: z.enum(['caregivers', 'supervisors']),
});
export type AlertTransition = z.infer<typeof alertTransitionSchema>;

/**
 * An alert delivery channel (MQTT, SSE, webhook, InfluxDB history). Every channel passes the shared
 * contract suite in rules/channels/channel-contract.ts: `deliver` never throws and never blocks the
 * caller on a slow peer; `close` flushes what it holds.
 */
export interface AlertChannel {
  readonly name: string;
  deliver(transition: AlertTransition): void;
  /**
   * Resolves once everything delivered so far is with the peer (the broker's PUBACK), for a channel that
   * would lose it in a crash; the rules journal marks a transition delivered only then.
   */
  settled?(): Promise<void>;
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
  /** A front end answers once the command is with the broker, on its way to the owning rules partition. */
  acknowledge(id: string, by: string, at?: number): CommandResult | Promise<CommandResult>;
  /** Staff close an alert that has no condition to clear (the one-key alarm). */
  resolve(id: string, by: string, at?: number): CommandResult | Promise<CommandResult>;
  /** Transitions after `afterSeq` still held in memory, for SSE `Last-Event-ID` resumption. */
  transitionsSince(afterSeq: number, center?: string): AlertTransition[];
  subscribe(listener: (transition: AlertTransition) => void): () => void;
}

/**
 * Where an SSE client of the alert stream stands: per centre, the seq of the last transition it was sent
 * (`floor` for centres it names no seq for). Seqs are per rules partition, so one number cannot place a
 * stream that spans centres of two partitions; a centre's own seqs are ordered wherever they are read.
 */
export interface StreamCursor {
  floor: number;
  centers: Map<string, number>;
}

const cursorPart = /^([a-z0-9-]{1,64}):(\d{1,16})$/;

/** A plain seq (a one-centre stream, or a single-process id) or `centre:seq,centre:seq`; undefined if neither. */
export function parseStreamCursor(raw: string): StreamCursor | undefined {
  if (/^\d{1,16}$/.test(raw)) return { floor: Number(raw), centers: new Map() };
  const centers = new Map<string, number>();
  for (const part of raw.split(',')) {
    const match = cursorPart.exec(part);
    if (!match) return undefined;
    centers.set(match[1]!, Number(match[2]));
  }
  return { floor: 0, centers };
}

export function formatStreamCursor(cursor: StreamCursor): string {
  return [...cursor.centers].map(([center, seq]) => `${center}:${seq}`).join(',');
}

export function isAfterCursor(cursor: StreamCursor, transition: AlertTransition): boolean {
  return transition.seq > (cursor.centers.get(transition.alert.center) ?? cursor.floor);
}

/** The lowest seq a cursor holds, to ask AlertService.transitionsSince for everything that may follow it. */
export function cursorFloor(cursor: StreamCursor): number {
  return Math.min(cursor.floor, ...cursor.centers.values());
}

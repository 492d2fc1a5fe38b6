import { createHash } from 'node:crypto';
import type { AlertTransition } from '../../protocol/alerts.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import type { NapCheckRecord } from '../contracts.ts';
import type { Deadline } from './deadlines.ts';
import type { Store } from './store.ts';
import type { Thresholds } from './thresholds.ts';

export interface NapChange {
  center: string;
  room: string;
  state: 'started' | 'ended';
  by: string;
  at: number;
  /** `schedule` changes are the engine's own: the shell publishes them on the nap topic. */
  source: 'schedule' | 'message';
}

export interface EngineOutput {
  transitions: AlertTransition[];
  naps: NapChange[];
  checks: NapCheckRecord[];
  /** Inputs ignored as older than (or as old as) the subject's latest. */
  stale: number;
}

export const emptyOutput = (): EngineOutput => ({ transitions: [], naps: [], checks: [], stale: 0 });

/** What the engine's parts share: the durable store, the registry, the clock, the output of the step. */
export interface Core {
  readonly store: Store;
  fleet(): FleetIndex;
  clock(): number;
  thresholds(center: string): Thresholds;
  timeZone(center: string): string;
  napping(room: string | undefined): boolean;
  out(): EngineOutput;
  schedule(deadline: Deadline): void;
}

export const MINUTE = 60_000;
export const ms = (seconds: number) => seconds * 1000;

/** One open alert per (rule, subject): its key in the state maps. */
export const alertKey = (rule: string, subject: string) => `${rule}|${subject}`;

/** Readable where it fits, hashed where it would pass the 64-character id limit; deterministic either way. */
export function alertId(rule: string, subject: string, raisedAt: number): string {
  const readable = `${rule}-${subject}-${raisedAt.toString(36)}`;
  if (readable.length <= 64) return readable;
  return `${rule}-${createHash('sha256').update(`${rule}|${subject}|${raisedAt}`).digest('hex').slice(0, 24)}`;
}

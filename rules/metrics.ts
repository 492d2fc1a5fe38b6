import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricPrefix } from '../lib/ops/index.ts';
import type { AlertTransition } from '../protocol/alerts.ts';
import { type Alert, SEVERITIES } from '../protocol/payloads.ts';
import type { EngineInput } from './engine/engine.ts';

const M = metricPrefix('rules');

/** What the service has counted since it started (`RunningRules.stats`), beside the metrics below. */
export interface RulesStats {
  received: number;
  invalid: number;
  stale: number;
  transitions: number;
}

const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];

/** The rules engine's own metrics; one registry per service, so several in one process keep theirs apart. */
export function createRulesMetrics(openAlerts: () => readonly Alert[]) {
  const registers = [new Registry()];
  new Gauge({
    name: `${M}open_alerts`,
    help: 'Alerts open (raised or acknowledged, not resolved), by severity',
    labelNames: ['severity'] as const,
    registers,
    collect() {
      const counts = new Map<string, number>(SEVERITIES.map((s) => [s, 0]));
      for (const alert of openAlerts()) counts.set(alert.severity, (counts.get(alert.severity) ?? 0) + 1);
      for (const [severity, count] of counts) this.set({ severity }, count);
    },
  });
  const transitions = new Counter({
    name: `${M}transitions_total`,
    help: 'Alert transitions journalled, by rule and kind (raised, updated, escalated, resolved …)',
    labelNames: ['rule', 'kind'] as const,
    registers,
  });
  const fsync = new Histogram({
    name: `${M}journal_fsync_seconds`,
    help: 'Duration of each journal fsync (one per group commit, or per sync interval without transitions)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const lag = (name: string, help: string) =>
    new Histogram({
      name: `${M}${name}`,
      help,
      labelNames: ['kind'] as const,
      buckets: LAG_BUCKETS,
      registers,
    });
  const inputLag = lag(
    'input_lag_seconds',
    'Device timestamp of an input to the engine having processed it, by input kind',
  );
  const arrivalLag = lag(
    'arrival_lag_seconds',
    'Device timestamp of an input to its arrival at the rules service, by input kind',
  );
  const brokerHolds = new Counter({
    name: `${M}broker_holds_heard_total`,
    help: 'Announcements heard from brokers holding telemetry (each second of a hold) or reading it again, by held',
    labelNames: ['held'] as const,
    registers,
  });
  return {
    registry: registers[0]!,
    brokerHold(held: boolean): void {
      brokerHolds.inc({ held: String(held) });
    },
    transitions(list: readonly AlertTransition[]): void {
      for (const t of list) transitions.inc({ rule: t.alert.rule, kind: t.kind });
    },
    fsynced(seconds: number): void {
      fsync.observe(seconds);
    },
    /** A device clock ahead of ours reads as no lag rather than a negative one. */
    processed(kind: EngineInput['type'], deviceTs: number, arrivedAt: number, now = Date.now()): void {
      inputLag.observe({ kind }, Math.max(0, now - deviceTs) / 1000);
      arrivalLag.observe({ kind }, Math.max(0, arrivedAt - deviceTs) / 1000);
    },
  };
}
export type RulesMetrics = ReturnType<typeof createRulesMetrics>;

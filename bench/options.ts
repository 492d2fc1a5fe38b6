import type { SimSummary } from '../device-sim/index.ts';
import type { InfluxConnection } from '../lib/influx/connection.ts';

export const SCENARIOS = ['throughput', 'latency', 'recovery', 'connections'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** How the services run: one `cradlewatch up` process, or broker, ingest and rules as three processes. */
export const TOPOLOGIES = ['one-process', 'split'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/**
 * The topology as the table and progress lines name it: `split, 2 brokers, 2 partitions` beside plain
 * `split` (one broker, one partition a tier).
 */
export const topologyName = (run: { topology: Topology; brokers: number; partitions: number }) =>
  [
    run.topology,
    ...(run.brokers > 1 ? [`${run.brokers} brokers`] : []),
    ...(run.partitions > 1 ? [`${run.partitions} partitions`] : []),
  ].join(', ');

export type InfluxV1 = Extract<InfluxConnection, { api: 'v1' }>;

export interface BenchOptions {
  scenarios: ScenarioName[];
  topology: Topology;
  /** Broker processes in the split topology: above 1, one cluster on a private redis-server. */
  brokers: number;
  /** Ingest and rules processes each in the split topology, partitioned by centre (`--partition i/n`). */
  partitions: number;
  /** Where the services write a V8 CPU profile each (`node --cpu-prof`); absent = none. */
  cpuProfileDir?: string;
  /** V8 old-space limit per service process in MB (`--max-old-space-size`); absent = Node's default. */
  heapMb?: number;
  /** Target readings/s for throughput, latency and recovery. */
  rate: number;
  /** Seconds at the target rate (after the connection ramp). */
  durationS: number;
  /** Wearables on their own connections for `connections`. */
  connections: number;
  presses: number;
  outageS: number;
  /** Seconds each ceiling measurement runs. */
  ceilingS: number;
  progress: (line: string) => void;
}

export interface ProcessUsage {
  process: string;
  cpuPercent: number;
  peakRssMb: number;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  topology: Topology;
  brokers: number;
  partitions: number;
  offeredPerS: number;
  connections: number;
  readingsSent: number;
  readingsWritten: number;
  lost: number;
  achievedPerS: number;
  latencyMs?: { count: number; p50: number; p99: number; max: number };
  drainS?: number;
  /** Alert transitions the rules wrote to InfluxDB during the run, by rule: what the load also made them do. */
  alertTransitions: Record<string, number>;
  /**
   * What the simulator really did to its devices, to count false alerts against: a silence-type transition
   * (monitoring-lost, room-silent, center-silent) for a run that dropped and silenced nothing is false.
   */
  groundTruth: { devicesDropped: number; faults: SimSummary['faults'] };
  /**
   * Silence alerts raised after every simulated device had connected, by rule (the start-up ramp is
   * excluded: until its gateway logs in, a wearable really is unmonitored).
   */
  silenceRaisedAfterConnect: Record<string, number>;
  /** Times the brokers (summed) held telemetry publishers, and the hold announcements the rules heard. */
  overload: { brokerHolds: number; rulesHeardHeld: number };
  /**
   * Presses as the rules saw them: mean ms from the press to its arrival at the rules, and to the engine
   * having processed it, and how many arrived over a second late. The rest of alarm→SSE is the rules' SSE
   * write and the bench's own reading of it.
   */
  alarmPath?: { presses: number; meanArrivalMs: number; meanProcessedMs: number; arrivedAfter1s: number };
  processes: ProcessUsage[];
  /** The stock parts in the same run: a plain writer into the same influxd, a bare Aedes. */
  ceilings: { influxPointsPerS: number; bareBrokerReadingsPerS: number };
}

/** Seconds-long, tiny-load settings that exercise every scenario: `npm test` runs them so the harness never rots. */
export const SMOKE = {
  rate: 300,
  duration: 6,
  connections: 40,
  presses: 10,
  outage: 2,
  ceilingS: 1,
} as const;

/** The token the bench's own HTTP clients use, configured into every topology. */
export const SUPERVISOR_TOKEN = 'bench-supervisor-token-0123456789';

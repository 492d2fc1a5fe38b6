import type { z } from 'zod';
import { ConfigError } from '../protocol/config.ts';
import type { Fleet } from '../protocol/fleet.ts';
import { describeZodError } from '../protocol/reasons.ts';
import { type Logger, silentLogger } from '../lib/logger.ts';
import { simulate } from './model.ts';
import type { SimulationPlan } from './model/plan.ts';
import { type FaultKind, RecordingWriter, readRecording, type SimRecord } from './recording.ts';
import {
  type Behaviour,
  type FaultRates,
  type Scenario,
  behaviourSchema,
  checkSubjects,
  faultRatesSchema,
} from './scenario.ts';
import { type Account, noSenderStats, Sender, type SenderStats } from './sender.ts';
import { FleetIndex } from '../protocol/fleet.ts';

export type StatusMode = 'tty' | 'log' | 'off';

export interface SimSummary {
  /** Records generated (connects, publishes, drops, disconnects). */
  records: number;
  published: number;
  acked: number;
  readingsSent: number;
  readingsAcked: number;
  errors: number;
  refusedConnects: number;
  faults: Partial<Record<FaultKind, number>>;
  /** Devices whose connection the simulator dropped without a goodbye: the ground truth of real losses. */
  devicesDropped: number;
  simulatedMs: number;
  wallMs: number;
  /** Acknowledged readings per wall second. */
  readingsPerSecond: number;
  /** Simulator CPU (user + system) over the run, and as a share of one core. */
  cpuSeconds: number;
  cpuPercent: number;
  stopped: boolean;
  /** Generated (and recorded) only, nothing sent. */
  dryRun: boolean;
}

export interface SimHandle {
  done: Promise<SimSummary>;
  stop(): Promise<void>;
  stats(): SenderStats & { records: number };
}

export interface SendOptions {
  /** Broker URL; absent generates (and records) the stream without sending it. */
  url?: string | undefined;
  credentials?: Record<string, string> | null;
  napAccount?: Account | null;
  speed?: number | 'max';
  window?: number;
  connectRate?: number;
  logger?: Logger;
  status?: StatusMode;
}

export interface RunOptions extends SendOptions {
  fleet: Fleet;
  scenario?: Scenario;
  seed?: number | string;
  startTime: number;
  durationMs?: number;
  record?: string | undefined;
  behaviour?: Partial<Behaviour> | Record<string, unknown>;
  faults?: Partial<FaultRates>;
  napBy?: string;
}

function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(`invalid ${what}: ${what}.${describeZodError(result.error)}`);
}

/** Resolves options into the plan the model runs: scenario values first, explicit options over them. */
export function planOf(options: RunOptions): SimulationPlan {
  const scenario = options.scenario;
  const durationMs = options.durationMs ?? scenario?.duration;
  if (durationMs === undefined || durationMs <= 0) throw new RangeError('a simulation needs a duration > 0');
  if (scenario) checkSubjects(scenario, new FleetIndex(options.fleet));
  return {
    fleet: options.fleet,
    seed: options.seed ?? scenario?.seed ?? 1,
    startTime: options.startTime,
    durationMs,
    behaviour: checked(behaviourSchema, { ...scenario?.behaviour, ...options.behaviour }, 'behaviour'),
    faults: checked(faultRatesSchema, { ...scenario?.faults, ...options.faults }, 'faults'),
    events: scenario?.events ?? [],
    napBy: options.napBy ?? options.napAccount?.username ?? 'device-sim',
  };
}

function formatStatus(stats: SenderStats & { records: number }, rate: number): string {
  const sim = stats.simTime ? new Date(stats.simTime).toISOString().slice(11, 19) : '--:--:--';
  return `sim ${sim}  connected ${stats.connected}  readings/s ${Math.round(rate)}  acks pending ${stats.inflight}  errors ${stats.errors}`;
}

/** A live line on a terminal, plain log lines every 10 s elsewhere. */
function startStatus(mode: StatusMode, logger: Logger, stats: () => SenderStats & { records: number }) {
  if (mode === 'off') return () => {};
  let last = stats().readingsAcked;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = stats();
    const rate = now.readingsAcked - last;
    last = now.readingsAcked;
    if (mode === 'tty') process.stderr.write(`\r\x1b[K${formatStatus(now, rate)}`);
    else if (++ticks % 10 === 0) logger.info({ ...now, readingsPerSecond: rate }, 'simulator status');
  }, 1000);
  return () => {
    clearInterval(timer);
    if (mode === 'tty') process.stderr.write('\r\x1b[K');
  };
}

function execute(
  records: Iterable<SimRecord> | AsyncIterable<SimRecord>,
  options: SendOptions,
  record?: string,
): SimHandle {
  const logger = options.logger ?? silentLogger;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const faults: Partial<Record<FaultKind, number>> = {};
  const dropped = new Set<string>();
  let count = 0;
  let firstT: number | undefined;
  let lastT = 0;
  const writer = record ? new RecordingWriter(record) : null;
  const sender = options.url
    ? new Sender({
        url: options.url,
        credentials: options.credentials ?? null,
        napAccount: options.napAccount ?? null,
        speed: options.speed ?? 1,
        window: options.window ?? 1000,
        connectRate: options.connectRate ?? 500,
        logger,
      })
    : null;
  let stopped = false;
  const observe = async (r: SimRecord) => {
    count++;
    firstT ??= r.t;
    lastT = r.t;
    if (r.fault) faults[r.fault] = (faults[r.fault] ?? 0) + 1;
    if (r.op === 'drop') dropped.add(r.client);
    await writer?.write(r);
  };
  const stats = () => ({ ...(sender?.stats ?? noSenderStats(lastT)), records: count });
  const stopStatus = startStatus(sender ? (options.status ?? 'off') : 'off', logger, stats);
  const done = (async (): Promise<SimSummary> => {
    try {
      if (sender) await sender.send(records, observe);
      else for await (const r of records) await observe(r);
      // A stopped run gives outstanding acknowledgements a moment, not the full drain.
      await sender?.close(stopped ? 3000 : 30_000);
    } finally {
      stopStatus();
      await writer?.close();
    }
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    const s = stats();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const readings = sender ? s.readingsAcked : 0;
    return {
      records: count,
      published: s.published,
      acked: s.acked,
      readingsSent: s.readingsSent,
      readingsAcked: s.readingsAcked,
      errors: s.errors,
      refusedConnects: s.refusedConnects,
      faults,
      devicesDropped: dropped.size,
      simulatedMs: firstT === undefined ? 0 : lastT - firstT,
      wallMs: Math.round(wallMs),
      readingsPerSecond: Math.round((readings * 1000) / wallMs),
      cpuSeconds: Math.round(cpuSeconds * 100) / 100,
      cpuPercent: Math.round((cpuSeconds * 100_000) / wallMs),
      stopped,
      dryRun: sender === null,
    };
  })();
  return {
    done,
    stats,
    async stop() {
      stopped = true;
      sender?.stop();
      await done.catch(() => {});
    },
  };
}

/** Runs a simulation: the model generates the stream, the recording takes it down, the sender sends it. */
export function runSimulation(options: RunOptions): SimHandle {
  const plan = planOf(options);
  return execute(simulate(plan), { connectRate: plan.behaviour.connectRate, ...options }, options.record);
}

/** Sends a recording again with its original simulated timing (scaled by `speed`). */
export function replay(file: string, options: SendOptions & { record?: string }): SimHandle {
  return execute(readRecording(file), options, options.record);
}

export function formatSummary(summary: SimSummary): string {
  const faults = Object.entries(summary.faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  if (summary.dryRun) {
    return `dry run: ${summary.records} records over ${(summary.simulatedMs / 1000).toFixed(1)} s simulated${faults ? `; faults: ${faults}` : ''}`;
  }
  return [
    `simulated ${(summary.simulatedMs / 1000).toFixed(1)} s in ${(summary.wallMs / 1000).toFixed(1)} s wall${summary.stopped ? ' (stopped early)' : ''}`,
    `records ${summary.records}, published ${summary.published}, acknowledged ${summary.acked}`,
    `readings sent ${summary.readingsSent}, acknowledged ${summary.readingsAcked}: ${summary.readingsPerSecond} readings/s`,
    `simulator CPU ${summary.cpuSeconds} s (${summary.cpuPercent}% of one core)`,
    `errors ${summary.errors}, refused connects ${summary.refusedConnects}${faults ? `, faults: ${faults}` : ''}`,
  ].join('\n');
}

import type { GeneratedFleet } from '../../device-sim/index.ts';
import type { RunningInfluxd } from '../../lib/influx/server.ts';
import type { Fleet } from '../../protocol/fleet.ts';
import type { BenchOptions, ScenarioResult } from '../options.ts';
import type { Services } from '../services.ts';

/** What a scenario has to work with once the services are up and the simulator has started. */
export interface ScenarioRun {
  options: BenchOptions;
  generated: GeneratedFleet;
  services: Services;
  influxd: RunningInfluxd;
  /** The connection ramp: the full rate is offered from this long after the simulator started. */
  rampMs: number;
  /** Whether every device of the fleet has connected (the ramp takes longer on a saturated machine). */
  allConnected: () => boolean;
  /** When the simulator's plan ends (wall clock, ms). */
  planEndsAt: number;
  say: (line: string) => void;
}

/** A scenario's own part of the result. */
export type ScenarioReport = Pick<ScenarioResult, 'latencyMs' | 'drainS'>;

/**
 * One bench scenario: the fleet it loads the pipeline with, and what it does beside that load. The harness
 * runs every scenario the same way (influxd, ceilings, services, simulator, counting) around these.
 */
export interface Scenario {
  /** Wearables in the fleet and how they connect: behind room gateways, or each on its own connection. */
  fleet(options: BenchOptions): { wearables: number; infantsPerRoom: number; gateways: boolean };
  /** Devices the simulator must leave alone because the scenario drives them itself. */
  reserved?(fleet: Fleet, options: BenchOptions): Fleet['devices'];
  /** Runs beside the simulator from its start; resolves with the scenario's report once its part is done. */
  run?(run: ScenarioRun): Promise<ScenarioReport>;
}

/** Wearables behind room gateways, one for each reading a second offered. */
export const gatewayFleet = (options: BenchOptions) => ({
  wearables: options.rate,
  infantsPerRoom: 12,
  gateways: true,
});

import type { Fleet } from '../../protocol/fleet.ts';
import type { Behaviour, FaultRates, ScenarioEvent } from '../scenario.ts';

/** Everything that decides the publish stream; the same plan always yields the same records. */
export interface SimulationPlan {
  fleet: Fleet;
  seed: number | string;
  /** Simulated t0 in ms since the epoch. */
  startTime: number;
  durationMs: number;
  behaviour: Behaviour;
  faults: FaultRates;
  events: ScenarioEvent[];
  /** The `by` of nap messages: the account the nap publisher logs in as. */
  napBy: string;
}

/** The client name of the nap publisher in recordings; the sender maps it to the configured account. */
export const NAP_CLIENT = '@nap';

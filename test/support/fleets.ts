import { type GeneratedFleet, type Scenario, generateFleet } from '../../device-sim/index.ts';

/**
 * A scenario's own fleet without password hashes (for an anonymous broker, or readings straight into the
 * engine), repeatable for a fixed reference month. `seed` defaults to the scenario's.
 */
export function scenarioFleet(
  scenario: Scenario,
  referenceMonth: string,
  seed = scenario.seed,
): GeneratedFleet {
  return generateFleet({ ...scenario.fleet, seed, hashCost: null, referenceMonth });
}

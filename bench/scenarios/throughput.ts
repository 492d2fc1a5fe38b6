import { gatewayFleet, type Scenario } from './scenario.ts';

/** The offered rate and nothing else: what the pipeline carries, and loses. */
export const throughput: Scenario = { fleet: gatewayFleet };

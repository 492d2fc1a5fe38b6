import type { ScenarioName } from '../options.ts';
import { connections } from './connections.ts';
import { latency } from './latency.ts';
import { recovery } from './recovery.ts';
import type { Scenario } from './scenario.ts';
import { throughput } from './throughput.ts';

export const scenarios: Record<ScenarioName, Scenario> = { throughput, latency, recovery, connections };

export {
  type GenerateFleetOptions,
  type GeneratedFleet,
  generateFleet,
  ids,
  writeFleetFiles,
} from './fleet-gen.ts';
export { simulate } from './model.ts';
export { NAP_CLIENT, type SimulationPlan } from './model/plan.ts';
export { FAULT_KINDS, type FaultKind, type SimRecord, readRecording } from './recording.ts';
export {
  type RunOptions,
  type SimHandle,
  type SimSummary,
  formatSummary,
  planOf,
  replay,
  runSimulation,
} from './run.ts';
export { type Scenario, listScenarios, loadScenario, parseScenario } from './scenario.ts';
export { readCredentials } from './config.ts';
export type { Account } from './sender.ts';

export { Engine, type EngineInput, type EngineOutput, type NapChange, alertId } from './engine.ts';
export { type Change, type DurableState, applyChanges, emptyState } from './state.ts';
export {
  type RulesConfig,
  type Thresholds,
  rulesConfigSchema,
  thresholds,
  thresholdsSchema,
} from './thresholds.ts';
export { DeviceTimeClock } from './clock.ts';

export {
  loadRulesConfig,
  RULES_SETTINGS,
  rulesServiceConfigSchema,
  type RulesServiceConfig,
} from './config.ts';
export { startRules, type RunningRules, type RulesStats } from './service.ts';
export { Engine, DeviceTimeClock, thresholds, thresholdsSchema, type Thresholds } from './engine/index.ts';
export { Journal } from './journal/journal.ts';
export { renderAlertText, renderMessage } from './text/index.ts';

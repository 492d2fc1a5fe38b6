import type { Command } from 'commander';
import { registerServiceCommand } from '../lib/service-command.ts';
import { RULES_SETTINGS, loadRulesConfig, rulesServiceConfigSchema } from './config.ts';
import { startRules } from './service.ts';

export function registerRulesCommand(program: Command): void {
  registerServiceCommand(program, {
    name: 'rules',
    description:
      'evaluate the safety rules on the live stream and deliver alerts (HTTP, SSE, MQTT, webhooks)',
    schema: rulesServiceConfigSchema,
    settings: RULES_SETTINGS,
    load: loadRulesConfig,
    start: startRules,
    ready: 'rules service ready',
  });
}

import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { type SettingFlags, addSettingOptions, printedConfig } from '../protocol/settings.ts';
import { RULES_SETTINGS, loadRulesConfig, rulesServiceConfigSchema } from './config.ts';
import { startRules } from './service.ts';

export function registerRulesCommand(program: Command): void {
  const command = program
    .command('rules')
    .description(
      'evaluate the safety rules on the live stream and deliver alerts (HTTP, SSE, MQTT, webhooks)',
    );
  addSettingOptions(command, rulesServiceConfigSchema, RULES_SETTINGS).action(async (flags: SettingFlags) => {
    const config = loadRulesConfig({ file: flags.config, flags });
    if (printedConfig(flags, config)) return;
    const log = createLogger({ service: 'rules' });
    const rules = await startRules(config, log);
    log.info({ url: rules.url }, 'rules service ready');
    exitOnSignals(() => rules.close(), log);
  });
}

import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { type SettingFlags, addSettingOptions, printedConfig } from '../protocol/settings.ts';
import { FRONTEND_SETTINGS, frontendConfigSchema, loadFrontendConfig } from './config.ts';
import { startFrontend } from './service.ts';

export function registerFrontendCommand(program: Command): void {
  const command = program
    .command('frontend')
    .description(
      'serve the caregiver page, alert API and SSE stream from the bus, with no rule state (run N)',
    );
  addSettingOptions(command, frontendConfigSchema, FRONTEND_SETTINGS).action(async (flags: SettingFlags) => {
    const config = loadFrontendConfig({ file: flags.config, flags });
    if (printedConfig(flags, config)) return;
    const log = createLogger({ service: 'frontend' });
    const frontend = await startFrontend(config, log);
    log.info({ url: frontend.url }, 'frontend ready');
    exitOnSignals(() => frontend.close(), log);
  });
}

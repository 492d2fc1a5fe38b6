import type { Command } from 'commander';
import { registerServiceCommand } from '../lib/service-command.ts';
import { FRONTEND_SETTINGS, frontendConfigSchema, loadFrontendConfig } from './config.ts';
import { startFrontend } from './service.ts';

export function registerFrontendCommand(program: Command): void {
  registerServiceCommand(program, {
    name: 'frontend',
    description:
      'serve the caregiver page, alert API and SSE stream from the bus, with no rule state (run N)',
    schema: frontendConfigSchema,
    settings: FRONTEND_SETTINGS,
    load: loadFrontendConfig,
    start: startFrontend,
    ready: 'frontend ready',
  });
}

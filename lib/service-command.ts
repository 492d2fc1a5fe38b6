import type { Command } from 'commander';
import type { z } from 'zod';
import type { ConfigSources } from '../protocol/config.ts';
import { type Setting, type SettingFlags, addSettingOptions, printedConfig } from '../protocol/settings.ts';
import { exitOnSignals } from './lifecycle.ts';
import { type Logger, createLogger } from './logger.ts';

export interface ServiceCommand<C> {
  name: string;
  description: string;
  schema: z.ZodType;
  settings: readonly Setting[];
  load(sources: ConfigSources): C;
  start(config: C, log: Logger): Promise<{ close(): Promise<void>; url?: string }>;
  /** Logged with the service's URL once it runs; nothing when absent. */
  ready?: string;
}

/**
 * `cradlewatch <service>`: its settings as options, the config loaded and validated (or printed with
 * `--print-config`), the service started with its own logger, and stopped gracefully on SIGINT/SIGTERM.
 */
export function registerServiceCommand<C>(program: Command, spec: ServiceCommand<C>): void {
  const command = program.command(spec.name).description(spec.description);
  addSettingOptions(command, spec.schema, spec.settings).action(async (flags: SettingFlags) => {
    const config = spec.load({ file: flags.config, flags });
    if (printedConfig(flags, config)) return;
    const log = createLogger({ service: spec.name });
    const running = await spec.start(config, log);
    if (spec.ready) log.info({ url: running.url }, spec.ready);
    exitOnSignals(() => running.close(), log);
  });
}

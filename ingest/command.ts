import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { type SettingFlags, addSettingOptions, printedConfig } from '../protocol/settings.ts';
import { INGEST_SETTINGS, ingestConfigSchema, loadIngestConfig } from './config.ts';
import { startIngest } from './service.ts';

export function registerIngestCommand(program: Command): void {
  const command = program
    .command('ingest')
    .description(
      'subscribe to the broker, validate, and write readings to InfluxDB (disk spool while it is away)',
    );
  addSettingOptions(command, ingestConfigSchema, INGEST_SETTINGS).action(async (flags: SettingFlags) => {
    const config = loadIngestConfig({ file: flags.config, flags });
    if (printedConfig(flags, config)) return;
    const log = createLogger({ service: 'ingest' });
    const ingest = await startIngest(config, log);
    exitOnSignals(() => ingest.close(), log);
  });
}

import type { Command } from 'commander';
import { registerServiceCommand } from '../lib/service-command.ts';
import { INGEST_SETTINGS, ingestConfigSchema, loadIngestConfig } from './config.ts';
import { startIngest } from './service.ts';

export function registerIngestCommand(program: Command): void {
  registerServiceCommand(program, {
    name: 'ingest',
    description:
      'subscribe to the broker, validate, and write readings to InfluxDB (disk spool while it is away)',
    schema: ingestConfigSchema,
    settings: INGEST_SETTINGS,
    load: loadIngestConfig,
    start: startIngest,
  });
}

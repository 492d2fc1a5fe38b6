import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { printableConfig } from '../protocol/config.ts';
import { loadIngestConfig } from './config.ts';
import { startIngest } from './service.ts';

interface IngestFlags {
  config?: string;
  fleet?: string;
  mqttUrl?: string;
  clientId?: string;
  centers?: string;
  partition?: string;
  maxSkew?: string;
  batchSize?: string;
  flushInterval?: string;
  flushIdle?: string;
  spoolDir?: string;
  spoolMaxBytes?: string;
  deadletterDir?: string;
  httpPort?: string;
  printConfig?: boolean;
}

export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description(
      'subscribe to the broker, validate, and write readings to InfluxDB (disk spool while it is away)',
    )
    .option('-c, --config <file>', 'YAML or JSON config file')
    .option('--fleet <file>', 'fleet registry (env CW_FLEET_FILE)')
    .option('--mqtt-url <url>', 'broker URL (env CW_MQTT_URL)')
    .option('--client-id <id>', 'fixed MQTT client id of the persistent session (env CW_INGEST_CLIENT_ID)')
    .option('--centers <list>', 'only these centres, comma-separated (env CW_INGEST_CENTERS)')
    .option('--partition <i/n>', 'only centres whose stable hash mod n is i (env CW_INGEST_PARTITION)')
    .option(
      '--max-skew <ms>',
      'allowed device clock skew in ms, or "off" for replays (env CW_INGEST_MAX_SKEW_MS)',
    )
    .option('--batch-size <points>', 'points per InfluxDB write')
    .option('--flush-interval <ms>', 'flush a partial batch after this long')
    .option(
      '--flush-idle <ms>',
      'flush a batch with unacknowledged messages after this long without a new one',
    )
    .option('--spool-dir <dir>', 'disk spool directory (env CW_INGEST_SPOOL_DIR)')
    .option('--spool-max-bytes <bytes>', 'disk spool budget (env CW_INGEST_SPOOL_MAX_BYTES)')
    .option('--deadletter-dir <dir>', 'where the dead-letter JSONL files go (env CW_INGEST_DEADLETTER_DIR)')
    .option(
      '--http-port <port>',
      'port of /metrics and /healthz, 0 for any free one (env CW_INGEST_HTTP_PORT)',
    )
    .option('--print-config', 'print the merged config (secrets masked) and exit')
    .action(async (flags: IngestFlags) => {
      const config = loadIngestConfig({ file: flags.config, flags });
      if (flags.printConfig) {
        console.log(printableConfig(config));
        return;
      }
      const log = createLogger({ service: 'ingest' });
      const ingest = await startIngest(config, log);
      exitOnSignals(() => ingest.close(), log);
    });
}

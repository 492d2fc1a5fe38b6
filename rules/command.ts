import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { printableConfig } from '../protocol/config.ts';
import { loadRulesConfig } from './config.ts';
import { startRules } from './service.ts';

interface RulesFlags {
  config?: string;
  fleet?: string;
  mqttUrl?: string;
  clientId?: string;
  centers?: string;
  partition?: string;
  journalDir?: string;
  clock?: string;
  speed?: string;
  maxSkew?: string;
  httpHost?: string;
  httpPort?: string;
  printConfig?: boolean;
}

export function registerRulesCommand(program: Command): void {
  program
    .command('rules')
    .description(
      'evaluate the safety rules on the live stream and deliver alerts (HTTP, SSE, MQTT, webhooks)',
    )
    .option('-c, --config <file>', 'YAML or JSON config file')
    .option('--fleet <file>', 'fleet registry (env CW_FLEET_FILE)')
    .option('--mqtt-url <url>', 'broker URL (env CW_MQTT_URL)')
    .option('--client-id <id>', 'fixed MQTT client id of the persistent session (env CW_RULES_CLIENT_ID)')
    .option('--centers <list>', 'only these centres, comma-separated (env CW_RULES_CENTERS)')
    .option(
      '--partition <i/n>',
      'only centres whose stable hash mod n is i, as ingest (env CW_RULES_PARTITION)',
    )
    .option('--journal-dir <dir>', 'durable state directory (env CW_RULES_JOURNAL_DIR)')
    .option('--clock <mode>', '"wall" (live) or "device" (replays; env CW_RULES_CLOCK)')
    .option('--speed <x>', 'replay speed for --clock device (env CW_RULES_SPEED)')
    .option(
      '--max-skew <ms>',
      'allowed device clock skew in ms, or "off" for replays (env CW_RULES_MAX_SKEW_MS)',
    )
    .option('--http-host <host>', 'HTTP listen address (env CW_RULES_HTTP_HOST)')
    .option('--http-port <port>', 'HTTP port, 0 for any free one (env CW_RULES_HTTP_PORT)')
    .option('--print-config', 'print the merged config (secrets masked) and exit')
    .action(async (flags: RulesFlags) => {
      const config = loadRulesConfig({ file: flags.config, flags });
      if (flags.printConfig) {
        console.log(printableConfig(config));
        return;
      }
      const log = createLogger({ service: 'rules' });
      const rules = await startRules(config, log);
      log.info({ url: rules.url }, 'rules service ready');
      exitOnSignals(() => rules.close(), log);
    });
}

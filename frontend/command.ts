import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { maskSecrets } from '../protocol/config.ts';
import { loadFrontendConfig } from './config.ts';
import { startFrontend } from './service.ts';

interface FrontendFlags {
  config?: string;
  fleet?: string;
  mqttUrl?: string;
  httpHost?: string;
  httpPort?: string;
  printConfig?: boolean;
}

export function registerFrontendCommand(program: Command): void {
  program
    .command('frontend')
    .description(
      'serve the caregiver page, alert API and SSE stream from the bus, with no rule state (run N)',
    )
    .option('-c, --config <file>', 'YAML or JSON config file')
    .option('--fleet <file>', 'fleet registry (env CW_FLEET_FILE)')
    .option('--mqtt-url <url>', 'broker URL, or a comma-separated list of a cluster (env CW_MQTT_URL)')
    .option('--http-host <host>', 'HTTP listen address (env CW_FRONTEND_HTTP_HOST)')
    .option('--http-port <port>', 'HTTP port, 0 for any free one (env CW_FRONTEND_HTTP_PORT)')
    .option('--print-config', 'print the merged config (secrets masked) and exit')
    .action(async (flags: FrontendFlags) => {
      const config = loadFrontendConfig({
        file: flags.config,
        overrides: {
          fleetFile: flags.fleet,
          mqtt: { url: flags.mqttUrl },
          http: { host: flags.httpHost, port: flags.httpPort },
        },
      });
      if (flags.printConfig) {
        console.log(JSON.stringify(maskSecrets(config), null, 2));
        return;
      }
      const log = createLogger({ service: 'frontend' });
      const frontend = await startFrontend(config, log);
      log.info({ url: frontend.url }, 'frontend ready');
      exitOnSignals(() => frontend.close(), log);
    });
}

import type { Command } from 'commander';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { printableConfig } from '../protocol/config.ts';
import { loadBrokerConfig } from './config.ts';
import { startBroker } from './server.ts';

interface BrokerFlags {
  config?: string;
  fleet?: string;
  host?: string;
  port?: string;
  tlsPort?: string;
  wsPort?: string;
  httpPort?: string;
  allowAnonymous?: boolean;
  redis?: string;
  printConfig?: boolean;
  dataDir?: string;
  aclFile?: string;
}

export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('MQTT broker (Aedes) with per-device authentication and topic ACLs')
    .option('-c, --config <file>', 'YAML/JSON config (service accounts, limits, TLS)')
    .option('--fleet <file>', 'fleet registry (fleet.yaml); env CW_FLEET_FILE')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option('--port <port>', 'MQTT over TCP (default 1883; 0 = free port)')
    .option('--tls-port <port>', 'MQTT over TLS, when tls.cert and tls.key are configured (default 8883)')
    .option('--ws-port <port>', 'MQTT over WebSocket at /mqtt')
    .option('--http-port <port>', '/healthz and /metrics')
    .option('--redis <url>', 'Redis for shared persistence and pub/sub (cluster of brokers)')
    .option('--acl-file <file>', "operator ACL (mosquitto acl_file syntax) applied after the registry's")
    .option('--data-dir <dir>', 'keep sessions and retained messages on disk there (private redis-server)')
    .option('--allow-anonymous', 'development only: no authentication, every topic open')
    .option('--print-config', 'print the merged config (secrets masked) and exit')
    .action(async (flags: BrokerFlags) => {
      const config = loadBrokerConfig({ file: flags.config, flags });
      if (flags.printConfig) {
        console.log(printableConfig(config));
        return;
      }
      const log = createLogger({ service: 'broker' });
      const broker = await startBroker(config, log);
      // Machine-readable first line for scripts and tests that start the broker on free ports.
      console.log(
        JSON.stringify({
          ready: true,
          mqtt: broker.mqttUrl,
          ws: broker.wsUrl,
          tls: broker.tlsUrl,
          http: broker.httpUrl,
        }),
      );
      exitOnSignals(() => broker.close(), log, 5_000);
    });
}

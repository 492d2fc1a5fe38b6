import type { Command } from 'commander';
import { readCredentials } from '../device-sim/index.ts';
import { readFleet } from '../lib/fleet-file.ts';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { createLogger } from '../lib/logger.ts';
import { ConfigError } from '../protocol/config.ts';
import { type SettingFlags, addSettingOptions, printedConfig } from '../protocol/settings.ts';
import { BROKER_SETTINGS, brokerConfigSchema, loadBrokerConfig } from './config.ts';
import { buildMosquittoExport, readExportAccounts, writeMosquittoExport } from './mosquitto-export.ts';
import { startBroker } from './server.ts';

export function registerBrokerCommand(program: Command): void {
  // Positional options: `broker export --fleet …` belongs to export, not to the broker's own --fleet.
  const broker = program.command('broker').enablePositionalOptions();
  registerExportCommand(broker);
  broker.description('MQTT broker (Aedes) with per-device authentication and topic ACLs');
  addSettingOptions(
    broker,
    brokerConfigSchema,
    BROKER_SETTINGS,
    'YAML/JSON config (service accounts, limits, TLS)',
  ).action(async (flags: SettingFlags) => {
    const config = loadBrokerConfig({ file: flags.config, flags });
    if (printedConfig(flags, config)) return;
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

interface ExportFlags {
  format: string;
  fleet: string;
  credentials: string;
  accounts?: string;
  out: string;
}

/** `broker export`: the registry's logins and ACL for a broker that cannot read our scrypt registry. */
function registerExportCommand(broker: Command): void {
  broker
    .command('export')
    .description(
      "write the registry's logins and ACL for another broker (mosquitto: password_file, acl_file)",
    )
    .requiredOption('--format <format>', 'mosquitto')
    .requiredOption('--fleet <file>', 'fleet registry (fleet.yaml)')
    .requiredOption(
      '--credentials <file>',
      'clear device passwords (fleet.credentials.yaml from `sim fleet`)',
    )
    .option(
      '--accounts <file>',
      'service and staff accounts: accounts: [{username, password, role, center?}]',
    )
    .requiredOption('--out <dir>', 'directory for password_file and acl_file')
    .action(async (flags: ExportFlags) => {
      if (flags.format !== 'mosquitto')
        throw new ConfigError(`invalid --format ${JSON.stringify(flags.format)}: expected mosquitto`);
      const result = await buildMosquittoExport(
        readFleet(flags.fleet),
        readCredentials(flags.credentials),
        flags.accounts ? readExportAccounts(flags.accounts) : [],
      );
      const files = writeMosquittoExport(result, flags.out);
      for (const { username, reason } of result.leftOut) console.error(`left out ${username}: ${reason}`);
      console.log(
        `wrote ${files.passwordFile} and ${files.aclFile}: ${result.included.length} logins, ${result.leftOut.length} left out`,
      );
    });
}

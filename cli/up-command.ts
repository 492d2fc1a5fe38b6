import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { brokerConfigSchema, startBroker } from '../broker/index.ts';
import { ingestConfigSchema, startIngest } from '../ingest/index.ts';
import { hashPassword } from '../lib/credentials.ts';
import { readFleet } from '../lib/fleet-file.ts';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { componentLogger, createLogger, forService } from '../lib/logger.ts';
import { preferredPort } from '../lib/net.ts';
import { type SettingFlags, addSettingOptions, printedConfig } from '../protocol/settings.ts';
import { rulesServiceConfigSchema, startRules } from '../rules/index.ts';
import { renderBanner } from './up/banner.ts';
import { UP_SETTINGS, loadUpConfig, upConfigSchema } from './up/config.ts';
import { playDemo, writeDemoFleet } from './up/demo.ts';
import { chooseStorage } from './up/storage.ts';

const secret = () => randomBytes(18).toString('base64url');

/** The services' own MQTT accounts, fresh each start: nothing to configure, nothing reused. */
function serviceAccounts() {
  const make = (username: string, role: 'ingest' | 'rules' | 'simulator') => {
    const password = secret();
    return {
      account: { username, role, passwordHash: hashPassword(password) },
      login: { username, password },
    };
  };
  return {
    ingest: make('cradlewatch-ingest', 'ingest'),
    rules: make('cradlewatch-rules', 'rules'),
    sim: make('cw-demo-sim', 'simulator'),
  };
}

export function registerUpCommand(program: Command): void {
  const command = program
    .command('up')
    .description('run broker, ingest, rules and the caregiver page in one process (npm start)');
  addSettingOptions(
    command,
    upConfigSchema,
    UP_SETTINGS,
    'cradlewatch.yaml (default: ./cradlewatch.yaml when present)',
  ).action(async (flags: SettingFlags) => {
    const { existsSync } = await import('node:fs');
    const file = flags.config ?? (existsSync('cradlewatch.yaml') ? 'cradlewatch.yaml' : undefined);
    const config = loadUpConfig({ file, flags });
    if (printedConfig(flags, config)) return;
    if (!config.demo && !config.fleetFile) {
      console.error('cradlewatch up: give --fleet fleet.yaml for a site, or --demo for the demo fleet');
      process.exit(2);
    }
    const log = createLogger();
    mkdirSync(config.dataDir, { recursive: true });
    const demo = config.demo ? writeDemoFleet(config.dataDir) : undefined;
    const fleetFile = demo?.fleetFile ?? config.fleetFile!;
    const fleet = readFleet(fleetFile);
    const accounts = serviceAccounts();
    const caregiverToken = config.demo ? secret() : undefined;
    const supervisorToken = config.demo ? secret() : undefined;
    const tokens = [
      ...config.tokens,
      ...(caregiverToken
        ? [{ token: caregiverToken, role: 'caregiver' as const, center: 'c1', name: 'demo caregiver' }]
        : []),
      ...(supervisorToken
        ? [{ token: supervisorToken, role: 'supervisor' as const, name: 'demo supervisor' }]
        : []),
    ];

    const closers: (() => Promise<void>)[] = [];
    const close = async () => {
      for (const c of closers.reverse())
        await c().catch((error: unknown) => log.error({ err: error }, 'close failed'));
    };
    try {
      const storage = await chooseStorage(config, componentLogger(log, 'storage'));
      closers.push(() => storage.close());
      const broker = await startBroker(
        brokerConfigSchema.parse({
          host: config.host,
          port: await preferredPort(config.mqttPort, config.host),
          fleetFile,
          accounts: [accounts.ingest.account, accounts.rules.account, accounts.sim.account],
          ...(config.memorySessions ? { memorySessions: true } : { dataDir: join(config.dataDir, 'broker') }),
        }),
        forService(log, 'broker'),
      );
      closers.push(() => broker.close());
      const spoolDir = join(config.dataDir, 'spool');
      const ingest = await startIngest(
        ingestConfigSchema.parse({
          mqtt: { url: broker.mqttUrl, ...accounts.ingest.login },
          influx: storage.conn,
          fleetFile,
          spool: { dir: spoolDir },
          deadletter: { dir: join(config.dataDir, 'deadletter') },
          // Its /healthz and /metrics are served with the others' on the page's port.
          http: { enabled: false },
        }),
        forService(log, 'ingest'),
      );
      closers.push(() => ingest.close());
      const rules = await startRules(
        rulesServiceConfigSchema.parse({
          mqtt: { url: broker.mqttUrl, ...accounts.rules.login },
          fleetFile,
          journalDir: join(config.dataDir, 'rules'),
          ...(storage.kind === 'spool' ? {} : { influx: storage.conn }),
          channels: { history: { enabled: storage.kind !== 'spool' } },
          http: { host: config.host, port: await preferredPort(config.httpPort, config.host), tokens },
        }),
        forService(log, 'rules'),
        { alsoServe: [broker.ops, ingest.ops] },
      );
      closers.push(() => rules.close());
      if (demo) {
        closers.push(
          playDemo({
            url: broker.mqttUrl,
            fleet: fleet.fleet,
            credentials: demo.credentials,
            napAccount: accounts.sim.login,
            log: componentLogger(log, 'device-sim'),
          }),
        );
      }
      console.log(
        renderBanner({
          pageUrl: rules.url,
          caregiverToken,
          supervisorToken,
          mqttUrl: broker.mqttUrl,
          opsUrl: rules.url,
          storage,
          spoolDir,
          demo: Boolean(demo),
        }),
      );
    } catch (error) {
      await close();
      throw error;
    }
    exitOnSignals(close, log, 10_000);
  });
}

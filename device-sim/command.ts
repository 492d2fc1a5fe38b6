import type { Command } from 'commander';
import { ConfigError } from '../protocol/config.ts';
import {
  type SettingFlags,
  addSettingOptions,
  flagAttribute,
  loadSettings,
  printedConfig,
} from '../protocol/settings.ts';
import { readFleet } from '../lib/fleet-file.ts';
import { createLogger } from '../lib/logger.ts';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { type SimConfig, SIM_SETTINGS, readCredentials, simConfigSchema } from './config.ts';
import { generateFleet, monthOf, writeFleetFiles } from './fleet-gen.ts';
import {
  type RunOptions,
  type SimHandle,
  type StatusMode,
  formatSummary,
  replay,
  runSimulation,
} from './run.ts';
import { listScenarios, loadScenario } from './scenario.ts';

const int = (value: string) => {
  if (!/^\d+$/.test(value)) throw new ConfigError(`expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
};

/** What `sim replay` takes: the sending settings, for a recording that fixes fleet, faults and timing. */
const REPLAY_PATHS = new Set([
  'url',
  'credentials',
  'speed',
  'window',
  'connectRate',
  'nap.username',
  'nap.password',
  'status',
]);

/** Commander's names of the fault flags, whose text is read as a number below. */
const FAULT_ATTRIBUTES = SIM_SETTINGS.filter((s) => s.path.startsWith('faults.')).map((s) =>
  flagAttribute(s.flag!),
);

/** Fault rates are numbers in scenario files too, so the schema does not coerce: a flag's text is read here. */
function asNumber(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))
    ? Number(value)
    : value;
}

function configOf(flags: SettingFlags): SimConfig {
  const rates = Object.fromEntries(
    FAULT_ATTRIBUTES.map((attribute) => [attribute, asNumber(flags[attribute])]),
  );
  return loadSettings(simConfigSchema, SIM_SETTINGS, { file: flags.config, flags: { ...flags, ...rates } });
}

function statusMode(config: SimConfig): StatusMode {
  if (config.status !== 'auto') return config.status;
  return process.stderr.isTTY ? 'tty' : 'log';
}

function sendOptions(config: SimConfig) {
  const { username, password } = config.nap;
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError('invalid config:\n  nap: give both nap.username and nap.password, or neither');
  }
  return {
    url: config.dryRun ? undefined : config.url,
    credentials: config.credentials ? readCredentials(config.credentials) : null,
    napAccount: username && password ? { username, password } : null,
    speed: config.speed,
    window: config.window,
    ...(config.connectRate ? { connectRate: config.connectRate } : {}),
    status: statusMode(config),
  };
}

/** Builds run options from config: a registry file, a scenario's fleet shape, or `devices`. */
export function runOptionsOf(config: SimConfig): RunOptions {
  if (config.fleet && config.devices)
    throw new ConfigError('invalid config:\n  devices: give a fleet file or devices, not both');
  const scenario =
    config.scenario || (!config.devices && !config.fleet)
      ? loadScenario(config.scenario ?? 'nap-time')
      : undefined;
  const startTime = config.startTime ?? Date.now();
  const seed = config.seed ?? scenario?.seed ?? 1;
  let fleet: RunOptions['fleet'];
  if (config.fleet) fleet = readFleet(config.fleet).fleet;
  else {
    const shape = config.devices
      ? { centers: Math.ceil(config.devices / 60), roomsPerCenter: 5, infantsPerRoom: 12, gateways: false }
      : scenario!.fleet;
    const gateways = config.gateways ?? shape.gateways;
    fleet = generateFleet({
      ...shape,
      gateways,
      seed,
      hashCost: null,
      referenceMonth: monthOf(startTime),
    }).fleet;
    if (config.credentials) {
      throw new ConfigError(
        'invalid config:\n  credentials: only with a fleet file (generated fleets connect anonymously)',
      );
    }
  }
  const durationMs = config.duration ?? scenario?.duration;
  if (durationMs === undefined)
    throw new ConfigError('invalid config:\n  duration: required without a scenario');
  return {
    fleet,
    ...(scenario ? { scenario } : {}),
    seed,
    startTime,
    durationMs,
    record: config.record,
    faults: config.faults,
    behaviour: {
      ...config.behaviour,
      // One rate paces both the simulated start-up ramp and the wall-clock connection limit.
      ...(config.connectRate ? { connectRate: config.connectRate } : {}),
      ...(config.wearableInterval !== undefined ? { wearableIntervalMs: config.wearableInterval } : {}),
      ...(config.roomInterval !== undefined ? { roomIntervalMs: config.roomInterval } : {}),
      ...(config.gatewayFlush !== undefined ? { gatewayFlushMs: config.gatewayFlush } : {}),
    },
    ...sendOptions(config),
  };
}

async function finish(handle: SimHandle, logger: ReturnType<typeof createLogger>): Promise<void> {
  exitOnSignals(() => handle.stop(), logger);
  const summary = await handle.done;
  console.log(formatSummary(summary));
  if (summary.errors > 0) process.exitCode = 1;
}

export function registerSimCommand(program: Command): void {
  const sim = program
    .command('sim')
    .description('device simulator: fleets, scenarios, recordings and replays');

  sim
    .command('fleet')
    .description('generate a fleet registry and a separate file of clear device passwords')
    .option('--centers <n>', 'centres', int, 1)
    .option('--rooms-per-center <n>', 'rooms per centre', int, 2)
    .option('--infants-per-room <n>', 'infants (and wearables) per room', int, 6)
    .option('--gateways', 'room gateways relay their wearables (which then get no password)', false)
    .option('--seed <s>', 'seed for ids, ages and names', '1')
    .option('--hash-cost <n>', 'scrypt N for password hashes (tests and benchmarks use 1024)', int, 16_384)
    .option('--reference-month <yyyy-mm>', 'month ages are counted back from (default: this month)')
    .requiredOption('--out <file>', 'registry to write (fleet.yaml)')
    .option('--credentials-out <file>', 'clear passwords to write (default: <out>.credentials.yaml)')
    .action((flags) => {
      const generated = generateFleet({
        centers: flags.centers,
        roomsPerCenter: flags.roomsPerCenter,
        infantsPerRoom: flags.infantsPerRoom,
        gateways: flags.gateways,
        seed: flags.seed,
        hashCost: flags.hashCost,
        referenceMonth: flags.referenceMonth ?? monthOf(Date.now()),
      });
      const credentialsOut =
        flags.credentialsOut ?? String(flags.out).replace(/(\.ya?ml|\.json)?$/, '.credentials.yaml');
      writeFleetFiles(generated, flags.out, credentialsOut);
      console.log(
        `wrote ${flags.out} (${generated.fleet.devices.length} devices, ${generated.fleet.infants.length} infants) and ${credentialsOut}`,
      );
    });

  const run = sim.command('run').description('run a scenario or a generated fleet against a broker');
  addSettingOptions(run, simConfigSchema, SIM_SETTINGS).action(async (flags: SettingFlags) => {
    const config = configOf(flags);
    if (printedConfig(flags, config)) return;
    const logger = createLogger().child({ component: 'device-sim' });
    await finish(runSimulation({ ...runOptionsOf(config), logger }), logger);
  });

  const replayCommand = sim
    .command('replay <file>')
    .description('publish a recording again with its simulated timing');
  addSettingOptions(
    replayCommand,
    simConfigSchema,
    SIM_SETTINGS.filter((s) => REPLAY_PATHS.has(s.path)),
  ).action(async (file: string, flags: SettingFlags) => {
    const config = configOf(flags);
    if (printedConfig(flags, config)) return;
    const logger = createLogger().child({ component: 'device-sim' });
    await finish(replay(file, { ...sendOptions(config), logger }), logger);
  });

  sim
    .command('scenarios')
    .description('list the shipped scenarios')
    .action(() => {
      for (const name of listScenarios()) console.log(`${name}: ${loadScenario(name).description}`);
    });
}

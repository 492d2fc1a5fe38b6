import type { Command } from 'commander';
import { ConfigError, loadConfig, printableConfig } from '../protocol/config.ts';
import { readFleet } from '../lib/fleet-file.ts';
import { createLogger } from '../lib/logger.ts';
import { exitOnSignals } from '../lib/lifecycle.ts';
import { type SimConfig, SIM_ENV, SIM_FLAGS, readCredentials, simConfigSchema } from './config.ts';
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

const FAULT_FLAGS = [
  ['malformed-json', 'malformedJson'],
  ['schema-violation', 'schemaViolation'],
  ['duplicate', 'duplicate'],
  ['out-of-order', 'outOfOrder'],
  ['clock-skew', 'clockSkew'],
  ['oversized', 'oversized'],
  ['spoofed-topic', 'spoofedTopic'],
  ['wrong-password', 'wrongPassword'],
  ['connection-storm', 'connectionStorm'],
] as const;

interface RunFlags {
  config?: string;
  url?: string;
  scenario?: string;
  fleet?: string;
  credentials?: string;
  devices?: string;
  gateways?: boolean;
  seed?: string;
  speed?: string;
  startTime?: string;
  duration?: string;
  record?: string;
  dryRun?: boolean;
  window?: string;
  connectRate?: string;
  wearableInterval?: string;
  roomInterval?: string;
  gatewayFlush?: string;
  napUsername?: string;
  napPassword?: string;
  status?: string;
  printConfig?: boolean;
  [fault: string]: unknown;
}

/** `--fault-malformed-json` is commander's `faultMalformedJson`, and sets `faults.malformedJson`. */
const FAULT_FLAG_MAP = Object.fromEntries(
  FAULT_FLAGS.map(([, key]) => [`fault${key[0]!.toUpperCase()}${key.slice(1)}`, `faults.${key}`]),
);

/** Fault rates are numbers in scenario files too, so the schema does not coerce: a flag's text is read here. */
function asNumber(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))
    ? Number(value)
    : value;
}

function configOf(flags: RunFlags): SimConfig {
  const rates = Object.fromEntries(
    Object.keys(FAULT_FLAG_MAP).map((attribute) => [attribute, asNumber(flags[attribute])]),
  );
  return loadConfig(simConfigSchema, {
    file: flags.config,
    envMap: SIM_ENV,
    flags: { ...flags, ...rates },
    flagMap: { ...SIM_FLAGS, ...FAULT_FLAG_MAP },
  });
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

  const run = sim
    .command('run')
    .description('run a scenario or a generated fleet against a broker')
    .option('--config <file>', 'YAML/JSON config file')
    .option('--url <url>', 'broker URL')
    .option('--scenario <name|file>', `scenario: ${listScenarios().join(', ')} or a YAML file`)
    .option('--fleet <file>', 'fleet registry (from `sim fleet`)')
    .option('--credentials <file>', 'clear device passwords (from `sim fleet`)')
    .option('--devices <n>', 'generate this many wearables instead of a scenario fleet')
    .option('--gateways', 'room gateways batch their wearables')
    .option('--seed <s>', 'seed')
    .option('--speed <x>', '1, 10, … or max')
    .option('--start-time <iso|ms>', 'simulated t0 (default: now)')
    .option('--duration <d>', 'simulated duration, e.g. 60s, 2h')
    .option('--record <file.jsonl>', 'write every publish to a recording')
    .option('--dry-run', 'generate (and record) without a broker')
    .option('--window <n>', 'publishes awaiting acknowledgement before pausing')
    .option('--connect-rate <n>', 'connections opened per second')
    .option('--wearable-interval <d>', 'time between wearable readings (default 1s)')
    .option('--room-interval <d>', 'time between room sensor readings (default 10s)')
    .option('--gateway-flush <d>', 'how often a gateway sends its batch (default 1s)')
    .option('--nap-username <u>', 'account for nap messages (caregiver/supervisor)')
    .option('--nap-password <p>', 'its password')
    .option('--status <mode>', 'auto, tty, log or off')
    .option('--print-config', 'print the merged config (secrets masked) and exit');
  for (const [flag, key] of FAULT_FLAGS) {
    const per =
      key === 'wrongPassword' || key === 'connectionStorm'
        ? 'per simulated minute'
        : 'per telemetry message (0-1)';
    run.option(`--fault-${flag} <rate>`, `${flag} faults ${per}`);
  }
  run.action(async (flags: RunFlags) => {
    const config = configOf(flags);
    if (flags.printConfig) return console.log(printableConfig(config));
    const logger = createLogger().child({ component: 'device-sim' });
    await finish(runSimulation({ ...runOptionsOf(config), logger }), logger);
  });

  sim
    .command('replay <file>')
    .description('publish a recording again with its simulated timing')
    .option('--config <file>', 'YAML/JSON config file')
    .option('--url <url>', 'broker URL')
    .option('--credentials <file>', 'clear device passwords')
    .option('--speed <x>', '1, 10, … or max')
    .option('--window <n>', 'publishes awaiting acknowledgement before pausing')
    .option('--connect-rate <n>', 'connections opened per second')
    .option('--nap-username <u>', 'account for nap messages')
    .option('--nap-password <p>', 'its password')
    .option('--status <mode>', 'auto, tty, log or off')
    .option('--print-config', 'print the merged config (secrets masked) and exit')
    .action(async (file: string, flags: RunFlags) => {
      const config = configOf(flags);
      if (flags.printConfig) return console.log(printableConfig(config));
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

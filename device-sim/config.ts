import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, envBoolean } from '../protocol/config.ts';
import { reportUnknownKeys } from '../protocol/config-keys.ts';
import { idSchema } from '../protocol/ids.ts';
import { describeZodError } from '../protocol/reasons.ts';
import type { Setting } from '../protocol/settings.ts';
import {
  behaviourSchema,
  durationSchema,
  faultOverridesSchema,
  faultRatesSchema,
  listScenarios,
} from './scenario.ts';

export const speedSchema = z.union([z.literal('max'), z.coerce.number().positive().max(1_000_000)]);

/** An ISO date-time or milliseconds since the epoch. */
export const startTimeSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' || /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms) || ms < 946_684_800_000 || ms > 4_102_444_800_000) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an ISO date-time or epoch ms between 2000 and 2100, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** `cradlewatch sim run` and `sim replay`: file (`--config`), env (`CW_SIM_*`), then flags. */
export const simConfigSchema = z.strictObject({
  url: z
    .string()
    .regex(/^(mqtt|tcp):\/\/[^/]+/, 'expected mqtt://host:port (plain MQTT over TCP)')
    .default('mqtt://127.0.0.1:1883'),
  /** A shipped scenario's name or a YAML file. */
  scenario: z.string().min(1).optional(),
  /** A registry from `sim fleet`; without it a fleet is generated from the scenario or `devices`. */
  fleet: z.string().min(1).optional(),
  /** Clear passwords from `sim fleet`; without it devices connect anonymously. */
  credentials: z.string().min(1).optional(),
  /** Wearables to generate (12 a room, 5 rooms a centre, rounded up to whole centres). */
  devices: z.coerce.number().int().min(1).max(1_000_000).optional(),
  gateways: envBoolean.optional(),
  seed: z.union([z.coerce.number().int(), z.string().min(1)]).optional(),
  speed: speedSchema.default(1),
  startTime: startTimeSchema.optional(),
  duration: durationSchema.optional(),
  record: z.string().min(1).optional(),
  /** Generate and record only, without a broker. */
  dryRun: envBoolean.default(false),
  window: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  connectRate: z.coerce.number().min(1).max(100_000).optional(),
  nap: z
    .strictObject({
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
    })
    .prefault({}),
  faults: faultOverridesSchema.prefault({}),
  /**
   * Model parameters over the scenario's (see behaviourSchema in scenario.ts): values are checked when the
   * plan is made, over the scenario's; the names here, so a misspelt one is refused by its source.
   */
  behaviour: z
    .preprocess(
      (value, ctx) => {
        reportUnknownKeys(ctx, behaviourSchema, value);
        return value;
      },
      z.record(z.string(), z.unknown()),
    )
    .prefault({}),
  /** Shorthands for behaviour.wearableIntervalMs and behaviour.roomIntervalMs. */
  wearableInterval: durationSchema.optional(),
  roomInterval: durationSchema.optional(),
  /** Shorthand for behaviour.gatewayFlushMs: longer means fuller batches (≤ 100 readings). */
  gatewayFlush: durationSchema.optional(),
  status: z.enum(['auto', 'tty', 'log', 'off']).default('auto'),
});
export type SimConfig = z.infer<typeof simConfigSchema>;

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `--fault-malformed-json <rate>` and the rest: one flag per fault of the scenario format. */
const FAULT_SETTINGS: Setting[] = Object.keys(faultRatesSchema.shape).map((key) => ({
  path: `faults.${key}`,
  flag: `--fault-${kebab(key)} <rate>`,
  help: `${kebab(key)} faults ${
    key === 'wrongPassword' || key === 'connectionStorm'
      ? 'per simulated minute'
      : 'per telemetry message (0-1)'
  }`,
}));

/** What `sim run` takes from env and flags beside the file; `sim replay` takes the sending part of them. */
export const SIM_SETTINGS: Setting[] = [
  {
    path: 'url',
    env: 'CW_SIM_URL',
    flag: '--url <url>',
    help: "broker URL (plain MQTT over TCP); a cluster's brokers, comma-separated, take the connections in turn",
  },
  {
    path: 'scenario',
    env: 'CW_SIM_SCENARIO',
    flag: '--scenario <name|file>',
    help: `scenario: ${listScenarios().join(', ')} or a YAML file; nap-time without a fleet or devices`,
  },
  { path: 'fleet', env: 'CW_SIM_FLEET', flag: '--fleet <file>', help: 'fleet registry (from `sim fleet`)' },
  {
    path: 'credentials',
    env: 'CW_SIM_CREDENTIALS',
    flag: '--credentials <file>',
    help: 'clear device passwords (from `sim fleet`); anonymous without',
  },
  {
    path: 'devices',
    flag: '--devices <n>',
    help: 'generate this many wearables instead of a scenario fleet',
  },
  { path: 'gateways', flag: '--gateways', help: 'room gateways batch their wearables' },
  { path: 'seed', flag: '--seed <s>', help: 'seed' },
  { path: 'speed', env: 'CW_SIM_SPEED', flag: '--speed <x>', help: '1, 10, … or max' },
  {
    path: 'startTime',
    env: 'CW_SIM_START_TIME',
    flag: '--start-time <iso|ms>',
    help: 'simulated t0; now when absent',
  },
  {
    path: 'duration',
    flag: '--duration <d>',
    help: "simulated duration, e.g. 60s, 2h; the scenario's when absent",
  },
  { path: 'record', flag: '--record <file.jsonl>', help: 'write every publish to a recording' },
  { path: 'dryRun', flag: '--dry-run', help: 'generate (and record) without a broker' },
  { path: 'window', flag: '--window <n>', help: 'publishes awaiting acknowledgement before pausing' },
  { path: 'connectRate', flag: '--connect-rate <n>', help: 'connections opened per second' },
  {
    path: 'wearableInterval',
    flag: '--wearable-interval <d>',
    help: 'time between wearable readings (over behaviour.wearableIntervalMs)',
  },
  {
    path: 'roomInterval',
    flag: '--room-interval <d>',
    help: 'time between room sensor readings (over behaviour.roomIntervalMs)',
  },
  {
    path: 'gatewayFlush',
    flag: '--gateway-flush <d>',
    help: 'how often a gateway sends its batch (over behaviour.gatewayFlushMs)',
  },
  {
    path: 'nap.username',
    env: 'CW_SIM_NAP_USERNAME',
    flag: '--nap-username <u>',
    help: 'account nap messages go out under (caregiver/supervisor); anonymous without',
  },
  { path: 'nap.password', env: 'CW_SIM_NAP_PASSWORD', flag: '--nap-password <p>', help: 'its password' },
  { path: 'status', flag: '--status <mode>', help: 'auto, tty, log or off' },
  ...FAULT_SETTINGS,
];

const credentialsFileSchema = z.strictObject({ devices: z.record(idSchema, z.string().min(1)) });

/** Reads the clear-password file `sim fleet` wrote. */
export function readCredentials(file: string): Record<string, string> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `cannot read credentials ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const parsed = credentialsFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(`credentials ${file} are invalid: ${describeZodError(parsed.error)}`);
  return parsed.data.devices;
}

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, envBoolean } from '../protocol/config.ts';
import { reportUnknownKeys } from '../protocol/config-keys.ts';
import { idSchema } from '../protocol/ids.ts';
import { describeZodError } from '../protocol/reasons.ts';
import { behaviourSchema, durationSchema, faultOverridesSchema } from './scenario.ts';

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

export const SIM_ENV: Record<string, string> = {
  CW_SIM_URL: 'url',
  CW_SIM_SCENARIO: 'scenario',
  CW_SIM_FLEET: 'fleet',
  CW_SIM_CREDENTIALS: 'credentials',
  CW_SIM_SPEED: 'speed',
  CW_SIM_START_TIME: 'startTime',
  CW_SIM_NAP_USERNAME: 'nap.username',
  CW_SIM_NAP_PASSWORD: 'nap.password',
};

/** `sim run` and `sim replay` flags: commander's attribute → config path (fault flags are added by the command). */
export const SIM_FLAGS: Record<string, string> = {
  url: 'url',
  scenario: 'scenario',
  fleet: 'fleet',
  credentials: 'credentials',
  devices: 'devices',
  gateways: 'gateways',
  seed: 'seed',
  speed: 'speed',
  startTime: 'startTime',
  duration: 'duration',
  record: 'record',
  dryRun: 'dryRun',
  window: 'window',
  connectRate: 'connectRate',
  wearableInterval: 'wearableInterval',
  roomInterval: 'roomInterval',
  gatewayFlush: 'gatewayFlush',
  napUsername: 'nap.username',
  napPassword: 'nap.password',
  status: 'status',
};

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

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../protocol/config.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import { idSchema } from '../protocol/ids.ts';
import { postureSchema } from '../protocol/payloads.ts';

export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `45s`, `2m`, `1h30m`, `500ms`, or a bare number of seconds → milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`duration must be ≥ 0 seconds, got ${value}`);
    return Math.round(value * 1000);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseDuration(Number(text));
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(part)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new RangeError(`bad duration ${JSON.stringify(value)}: expected e.g. 500ms, 45s, 2m, 1h30m`);
  }
  return Math.round(total);
}

export const durationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export interface Ramp {
  mode: 'to' | 'by';
  value: number;
  overMs: number;
}

/** `29` (a step), `ramp to 29 over 5m`, `ramp by +1.5 over 10m`. */
export const rampSchema = z.union([z.number(), z.string()]).transform((value, ctx): Ramp => {
  if (typeof value === 'number') return { mode: 'to', value, overMs: 0 };
  const match = /^\s*ramp\s+(to|by)\s+([+-]?\d+(?:\.\d+)?)\s+over\s+(\S+)\s*$/.exec(value);
  if (match) {
    try {
      return { mode: match[1] as 'to' | 'by', value: Number(match[2]), overMs: parseDuration(match[3]!) };
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }
  ctx.addIssue({
    code: 'custom',
    message: `expected a number, "ramp to X over D" or "ramp by ±X over D", got ${JSON.stringify(value)}`,
  });
  return z.NEVER;
});

const at = durationSchema;
const forDuration = durationSchema.optional();

const infantEvent = z.strictObject({
  at,
  infant: idSchema,
  posture: postureSchema.optional(),
  worn: z.boolean().optional(),
  motion: z.enum(['still', 'normal']).optional(),
  skinTempC: rampSchema.optional(),
  for: forDuration,
});
const roomEvent = z.strictObject({
  at,
  room: idSchema,
  tempC: rampSchema.optional(),
  humidity: rampSchema.optional(),
  for: forDuration,
});
const alarmEvent = z.strictObject({ at, alarm: idSchema, presses: z.int().min(1).max(100).default(1) });
const napEvent = z.strictObject({
  at,
  nap: z.union([idSchema, z.literal('all')]),
  state: z.enum(['start', 'end']),
});
const deviceEvent = z.strictObject({
  at,
  device: idSchema,
  /** Stays connected but publishes nothing. */
  silent: durationSchema.optional(),
  /** Loses its connection without a goodbye (the broker publishes its last will), back after this long. */
  drop: durationSchema.optional(),
  /** Switched off cleanly (retained offline status) or on again. */
  power: z.enum(['off', 'on']).optional(),
  /** From now on its clock is this many seconds off (readings and presses), inside the accepted ±5 min. */
  clockOffsetS: z.int().min(-300).max(300).optional(),
});

export type InfantEvent = z.infer<typeof infantEvent>;
export type RoomEvent = z.infer<typeof roomEvent>;
export type AlarmEventSpec = z.infer<typeof alarmEvent>;
export type NapEvent = z.infer<typeof napEvent>;
export type DeviceEvent = z.infer<typeof deviceEvent>;
export type ScenarioEvent =
  | ({ type: 'infant' } & InfantEvent)
  | ({ type: 'room' } & RoomEvent)
  | ({ type: 'alarm' } & AlarmEventSpec)
  | ({ type: 'nap' } & NapEvent)
  | ({ type: 'device' } & DeviceEvent);

const EVENT_SCHEMAS = {
  infant: infantEvent,
  room: roomEvent,
  alarm: alarmEvent,
  nap: napEvent,
  device: deviceEvent,
};
const SUBJECTS = Object.keys(EVENT_SCHEMAS) as (keyof typeof EVENT_SCHEMAS)[];

/** Which subject an event names decides its schema, so an error names the field instead of "no union matched". */
const eventSchema = z.unknown().transform((value, ctx): ScenarioEvent => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({
      code: 'custom',
      message: 'an event is a mapping like {at: 2m, infant: c1-r1-i1, posture: prone}',
    });
    return z.NEVER;
  }
  const named = SUBJECTS.filter((key) => key in value);
  if (named.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: `an event names exactly one subject (${SUBJECTS.join(', ')}); found ${named.length ? named.join(', ') : 'none'}`,
    });
    return z.NEVER;
  }
  const type = named[0]!;
  const parsed = EVENT_SCHEMAS[type].safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: issue.path });
    return z.NEVER;
  }
  return { type, ...parsed.data } as ScenarioEvent;
});

const rate = z.number().min(0).max(1);

const FAULT_RATES = {
  malformedJson: rate,
  schemaViolation: rate,
  duplicate: rate,
  outOfOrder: rate,
  clockSkew: rate,
  oversized: rate,
  spoofedTopic: rate,
  wrongPassword: z.number().min(0).max(10_000),
  connectionStorm: z.number().min(0).max(60),
};

/** Fault rates: the first seven per telemetry message (0–1), the last two per simulated minute. */
export const faultRatesSchema = z.strictObject(
  Object.fromEntries(Object.entries(FAULT_RATES).map(([k, v]) => [k, v.default(0)])) as {
    [K in keyof typeof FAULT_RATES]: z.ZodDefault<(typeof FAULT_RATES)[K]>;
  },
);
/** Overrides from config and flags: only what is given replaces the scenario's rates. */
export const faultOverridesSchema = z.strictObject(FAULT_RATES).partial();
export type FaultRates = z.infer<typeof faultRatesSchema>;

const qos01 = z.union([z.literal(0), z.literal(1)]);

export const behaviourSchema = z.strictObject({
  wearableIntervalMs: z.int().min(100).max(3_600_000).default(1000),
  roomIntervalMs: z.int().min(100).max(3_600_000).default(10_000),
  /** A gateway relays what it collected every this often (≤ 100 readings per message). */
  gatewayFlushMs: z.int().min(100).max(60_000).default(1000),
  /** Spontaneous rolls onto the front per infant-hour of nap; most roll back within seconds. */
  proneRollsPerHour: z.number().min(0).max(100).default(0.3),
  sideTurnsPerHour: z.number().min(0).max(100).default(3),
  wifiDropsPerHour: z.number().min(0).max(100).default(0.2),
  wifiDropSeconds: z.tuple([z.number().min(0), z.number().min(0)]).default([5, 45]),
  batteryDrainPerHour: z.number().min(0).max(100).default(2),
  /** Connections opened per second of simulated time at start (and at most per wall second when sending). */
  connectRate: z.number().min(1).max(100_000).default(500),
  qos: z
    .strictObject({ wearable: qos01.default(1), room: qos01.default(1), gateway: qos01.default(1) })
    .prefault({}),
});
export type Behaviour = z.infer<typeof behaviourSchema>;

export const fleetShapeSchema = z.strictObject({
  centers: z.int().min(1).default(1),
  roomsPerCenter: z.int().min(1).default(2),
  infantsPerRoom: z.int().min(1).default(6),
  gateways: z.boolean().default(false),
  /** Infant id → age in months (completed, counted back from the run's start month). */
  ages: z.record(z.string(), z.int().min(0).max(71)).default({}),
});

export const scenarioSchema = z.strictObject({
  name: idSchema,
  description: z.string().min(1),
  fleet: fleetShapeSchema.prefault({}),
  duration: durationSchema,
  seed: z.union([z.int(), z.string()]).default(1),
  behaviour: behaviourSchema.prefault({}),
  faults: faultRatesSchema.prefault({}),
  events: z.array(eventSchema).default([]),
});
export type Scenario = z.infer<typeof scenarioSchema>;

function issuesText(error: z.ZodError): string {
  return error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n');
}

export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source} is invalid:\n${issuesText(parsed.error)}`);
  const scenario = parsed.data;
  scenario.events.forEach((event, i) => {
    if (event.at > scenario.duration) {
      throw new ConfigError(
        `${source} is invalid:\n  events.${i}.at: ${event.at} ms is after the duration (${scenario.duration} ms)`,
      );
    }
  });
  scenario.events.sort((a, b) => a.at - b.at);
  return scenario;
}

/** A path to a YAML file, or the name of a shipped scenario (`prone-rollover`). */
export function loadScenario(fileOrName: string): Scenario {
  const file = existsSync(fileOrName) ? fileOrName : join(SCENARIO_DIR, `${fileOrName}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(
      `no scenario ${JSON.stringify(fileOrName)}: not a file, nor one of ${listScenarios().join(', ')}`,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`scenario ${file} is not valid YAML: ${(error as Error).message}`);
  }
  return parseScenario(raw, `scenario ${file}`);
}

export function listScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Every subject an event names must exist in the fleet it runs against. */
export function checkSubjects(scenario: Scenario, fleet: FleetIndex): void {
  const problems: string[] = [];
  scenario.events.forEach((event, i) => {
    const missing = (what: string, id: string) =>
      problems.push(`  events.${i}: no ${what} ${id} in the fleet`);
    if (event.type === 'infant' && !fleet.wearableOfInfant.has(event.infant))
      missing('infant with a wearable', event.infant);
    if (event.type === 'room' && !fleet.rooms.has(event.room)) missing('room', event.room);
    if (event.type === 'alarm') {
      const button = [...fleet.devices.values()].some((d) => d.kind === 'alarm' && d.room === event.alarm);
      if (!button) missing('alarm button in room', event.alarm);
    }
    if (event.type === 'nap' && event.nap !== 'all' && !fleet.rooms.has(event.nap))
      missing('room', event.nap);
    if (event.type === 'device' && !fleet.devices.has(event.device)) missing('device', event.device);
  });
  if (problems.length)
    throw new ConfigError(`scenario ${scenario.name} does not fit its fleet:\n${problems.join('\n')}`);
}

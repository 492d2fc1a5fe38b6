import { z } from 'zod';
import { reportUnknownKeys } from '../protocol/config-keys.ts';
import {
  type ConfigSources,
  FLEET_FILE_SETTING,
  clockSkewSchema,
  clockSkewSetting,
  mqttClientConfigSchema,
  mqttSettings,
} from '../protocol/config.ts';
import {
  centerSelectionFields,
  centerSelectionSettings,
  selectionRefinement,
} from '../protocol/partition.ts';
import { type Setting, loadSettings } from '../protocol/settings.ts';
import { INFLUX_SETTINGS, defaultApiV2, influxConnectionSchema } from '../lib/influx/connection.ts';
import { channelsConfigSchema } from './channels/index.ts';
import { rulesConfigSchema, thresholdsSchema } from './engine/thresholds.ts';
import { httpConfigSchema, httpSettings } from './http/index.ts';

const positiveInt = z.coerce.number().int().positive();
const DEFAULT_CLIENT_ID = 'cradlewatch-rules';
const DEFAULT_JOURNAL_DIR = './data/rules';

const isPlain = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Threshold overrides are open records checked inside a transform, out of the config loader's sight: a
 * misspelt rule or field under `rules.defaults` or `rules.centers.<id>` is refused here by its path.
 */
const ruleOverridesSchema = z.preprocess((raw, ctx) => {
  if (!isPlain(raw)) return raw;
  const centers = isPlain(raw.centers) ? Object.entries(raw.centers) : [];
  const scopes: [(string | number)[], unknown][] = [
    [['defaults'], raw.defaults],
    ...centers.map(([center, value]): [string[], unknown] => [['centers', center], value]),
  ];
  for (const [scope, value] of scopes) reportUnknownKeys(ctx, thresholdsSchema, value, scope);
  return raw;
}, rulesConfigSchema);

export const rulesServiceConfigSchema = z
  .object({
    mqtt: mqttClientConfigSchema(DEFAULT_CLIENT_ID).prefault({}),
    /** The centres this process evaluates (`--centers` or `--partition i/n`, as ingest); all when absent. */
    ...centerSelectionFields,
    fleetFile: z.string({ error: 'required: the fleet registry (fleet.yaml)' }).min(1),
    /** Where the journal and snapshot of open alerts and rule timers live. */
    journalDir: z.string().min(1).default(DEFAULT_JOURNAL_DIR),
    journalCompactBytes: positiveInt.default(4 * 1024 * 1024),
    /** For nap_check / nap_session records and the alert-history channel; optional without those. */
    influx: z.preprocess(defaultApiV2, influxConnectionSchema.optional()),
    /**
     * `wall`: engine time is the wall clock (live). `device`: it follows the newest device timestamp seen and
     * runs on at `speed` × wall time, so a replay at 10× raises the same alerts at the same device times.
     */
    clock: z
      .object({
        mode: z.enum(['wall', 'device']).default('wall'),
        speed: z.coerce.number().positive().default(1),
      })
      .prefault({}),
    maxClockSkewMs: clockSkewSchema.default(5 * 60 * 1000),
    rules: ruleOverridesSchema,
    http: httpConfigSchema.prefault({}),
    channels: channelsConfigSchema.prefault({}),
  })
  .refine(...selectionRefinement)
  .superRefine((config, ctx) => {
    if (config.channels.history.enabled && !config.influx) {
      ctx.addIssue({
        code: 'custom',
        path: ['channels', 'history', 'enabled'],
        message: 'alert history needs an InfluxDB connection (influx.*) or channels.history.enabled: false',
      });
    }
    if (config.clock.mode === 'wall' && config.clock.speed !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['clock', 'speed'],
        message: 'a speed other than 1 needs clock.mode: device',
      });
    }
  })
  // Two partitions on one session id would throw each other off the broker, and on one journal would
  // corrupt it: left at their defaults, both are made the partition's own.
  .transform((config) => {
    if (!config.partition) return config;
    const suffix = `p${config.partition.index}of${config.partition.count}`;
    return {
      ...config,
      mqtt: {
        ...config.mqtt,
        clientId:
          config.mqtt.clientId === DEFAULT_CLIENT_ID
            ? `${DEFAULT_CLIENT_ID}-${suffix}`
            : config.mqtt.clientId,
      },
      journalDir:
        config.journalDir === DEFAULT_JOURNAL_DIR ? `${DEFAULT_JOURNAL_DIR}/${suffix}` : config.journalDir,
    };
  });

export type RulesServiceConfig = z.infer<typeof rulesServiceConfigSchema>;

/** What `cradlewatch rules` takes from env and flags, beside the file. */
export const RULES_SETTINGS: Setting[] = [
  ...INFLUX_SETTINGS,
  ...mqttSettings('CW_RULES'),
  FLEET_FILE_SETTING,
  ...centerSelectionSettings('CW_RULES'),
  {
    path: 'journalDir',
    env: 'CW_RULES_JOURNAL_DIR',
    flag: '--journal-dir <dir>',
    help: "durable state directory (a partition's own below it)",
  },
  {
    path: 'clock.mode',
    env: 'CW_RULES_CLOCK',
    flag: '--clock <mode>',
    help: '"wall" (live) or "device" (replays)',
  },
  {
    path: 'clock.speed',
    env: 'CW_RULES_SPEED',
    flag: '--speed <x>',
    help: 'replay speed for --clock device',
  },
  clockSkewSetting('CW_RULES'),
  ...httpSettings('CW_RULES'),
];

export function loadRulesConfig(sources: ConfigSources = {}): RulesServiceConfig {
  return loadSettings(rulesServiceConfigSchema, RULES_SETTINGS, sources);
}

import { z } from 'zod';
import { type ConfigSources, FLEET_FILE_SETTING, envBoolean, portSchema } from '../../protocol/config.ts';
import { type Setting, loadSettings } from '../../protocol/settings.ts';
import { INFLUX_SETTINGS, defaultApiV2, influxConnectionSchema } from '../../lib/influx/connection.ts';
import { MEMORY_SESSIONS_SETTING } from '../../broker/config.ts';

/**
 * `cradlewatch up`: one process running broker, ingest, rules and the caregiver page, with storage chosen
 * for the user (their InfluxDB, a private influxd, or the disk spool) and an optional demo fleet.
 */
export const upConfigSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  /** Preferred ports; a busy one falls back to a free port, named in the banner. */
  mqttPort: portSchema.default(1883),
  httpPort: portSchema.default(8080),
  dataDir: z.string().min(1).default('./data'),
  /** The broker's sessions in memory instead of dataDir/broker (see the broker's memorySessions). */
  memorySessions: envBoolean.default(false),
  demo: envBoolean.default(false),
  /** Fleet registry for a real site; the demo generates its own. */
  fleetFile: z.string().min(1).optional(),
  /** An InfluxDB of the user's; without it a private influxd from PATH, else spool only. */
  influx: z.preprocess(defaultApiV2, influxConnectionSchema.optional()),
  /** Whether to start a private influxd when no InfluxDB is configured. */
  embeddedInflux: envBoolean.default(true),
  /** Caregiver and supervisor tokens for a real site; the demo makes its own each start. */
  tokens: z
    .array(
      z.object({
        token: z.string().min(16),
        role: z.enum(['caregiver', 'supervisor']),
        center: z.string().optional(),
        name: z.string(),
      }),
    )
    .default([]),
});
export type UpConfig = z.infer<typeof upConfigSchema>;

/** What `cradlewatch up` takes from env and flags, beside the file (tokens). */
export const UP_SETTINGS: Setting[] = [
  { path: 'host', env: 'CW_HOST', help: 'address the broker and the page listen on' },
  {
    path: 'mqttPort',
    env: 'CW_MQTT_PORT',
    flag: '--mqtt-port <port>',
    help: 'MQTT port; a free one when it is busy',
  },
  {
    path: 'httpPort',
    env: 'CW_HTTP_PORT',
    flag: '--http-port <port>',
    help: 'caregiver page and API port; a free one when it is busy',
  },
  {
    path: 'dataDir',
    env: 'CW_DATA_DIR',
    flag: '--data-dir <dir>',
    help: "where InfluxDB data, the broker's sessions, the spool and the rules journal live",
  },
  { ...MEMORY_SESSIONS_SETTING, env: 'CW_MEMORY_SESSIONS' },
  { path: 'demo', env: 'CW_DEMO', flag: '--demo', help: 'generate a demo fleet and play the demo scenario' },
  { ...FLEET_FILE_SETTING, help: 'fleet registry for a real site' },
  {
    path: 'embeddedInflux',
    env: 'CW_EMBEDDED_INFLUX',
    help: 'start a private influxd from PATH when no InfluxDB is configured',
  },
  ...INFLUX_SETTINGS,
];

/** The CW_INFLUX_* variables count only with a URL: alone they would make a connection the user did not ask for. */
const WITHOUT_INFLUX = UP_SETTINGS.filter((s) => !s.path.startsWith('influx.'));

export function loadUpConfig(sources: ConfigSources): UpConfig {
  const env = sources.env ?? process.env;
  return loadSettings(upConfigSchema, env.CW_INFLUX_URL ? UP_SETTINGS : WITHOUT_INFLUX, sources);
}

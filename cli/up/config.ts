import { z } from 'zod';
import { type ConfigSources, envBoolean, loadConfig, portSchema } from '../../protocol/config.ts';
import { INFLUX_ENV, defaultApiV2, influxConnectionSchema } from '../../lib/influx/connection.ts';

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

export const UP_ENV: Record<string, string> = {
  ...INFLUX_ENV,
  CW_HOST: 'host',
  CW_MQTT_PORT: 'mqttPort',
  CW_HTTP_PORT: 'httpPort',
  CW_DATA_DIR: 'dataDir',
  CW_DEMO: 'demo',
  CW_FLEET_FILE: 'fleetFile',
  CW_EMBEDDED_INFLUX: 'embeddedInflux',
};

/** `cradlewatch up` flags: commander's attribute → config path. */
export const UP_FLAGS: Record<string, string> = {
  demo: 'demo',
  fleet: 'fleetFile',
  dataDir: 'dataDir',
  mqttPort: 'mqttPort',
  httpPort: 'httpPort',
};

export function loadUpConfig(sources: ConfigSources): UpConfig {
  const env = sources.env ?? process.env;
  // INFLUX_ENV maps every variable into `influx`; only a URL makes it a connection the user asked for.
  const envMap = env.CW_INFLUX_URL
    ? { ...UP_ENV }
    : Object.fromEntries(Object.entries(UP_ENV).filter(([k]) => !k.startsWith('CW_INFLUX_')));
  return loadConfig(upConfigSchema, { ...sources, envMap, flagMap: { ...UP_FLAGS, ...sources.flagMap } });
}

import { hostname } from 'node:os';
import { z } from 'zod';
import { type ConfigSources, loadConfig, mqttClientConfigSchema } from '../protocol/config.ts';
import { httpConfigSchema } from '../rules/http/index.ts';

export const frontendConfigSchema = z.object({
  /**
   * A service account that may read the alert topics and publish acknowledgements, resolutions and nap
   * sessions (the broker's `rules` role). The session is persistent, so each front end needs its own
   * client id: the default adds the host name, which differs per container.
   */
  mqtt: mqttClientConfigSchema(`cradlewatch-frontend-${hostname()}`).prefault({}),
  fleetFile: z.string({ error: 'required: the fleet registry (fleet.yaml)' }).min(1),
  http: httpConfigSchema.prefault({}),
  /** Transitions kept for SSE Last-Event-ID resumption; older ones are only in the open-alert list. */
  recentTransitions: z.coerce.number().int().min(100).default(10_000),
  /** How long an HTTP acknowledgement waits for the broker's PUBACK before answering 503. */
  commandTimeoutMs: z.coerce.number().int().positive().default(5_000),
});

export type FrontendConfig = z.infer<typeof frontendConfigSchema>;

export const FRONTEND_ENV: Record<string, string> = {
  CW_MQTT_URL: 'mqtt.url',
  CW_MQTT_USERNAME: 'mqtt.username',
  CW_MQTT_PASSWORD: 'mqtt.password',
  CW_FRONTEND_CLIENT_ID: 'mqtt.clientId',
  CW_FLEET_FILE: 'fleetFile',
  CW_FRONTEND_HTTP_HOST: 'http.host',
  CW_FRONTEND_HTTP_PORT: 'http.port',
};

/** File, then env (FRONTEND_ENV), then flags. */
export function loadFrontendConfig(sources: ConfigSources = {}): FrontendConfig {
  return loadConfig(frontendConfigSchema, { ...sources, envMap: { ...FRONTEND_ENV, ...sources.envMap } });
}

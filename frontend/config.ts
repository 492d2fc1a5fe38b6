import { hostname } from 'node:os';
import { z } from 'zod';
import {
  type ConfigSources,
  FLEET_FILE_SETTING,
  mqttClientConfigSchema,
  mqttSettings,
} from '../protocol/config.ts';
import { type Setting, loadSettings } from '../protocol/settings.ts';
import { httpConfigSchema, httpSettings } from '../rules/http/index.ts';

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

/** What `cradlewatch frontend` takes from env and flags, beside the file. */
export const FRONTEND_SETTINGS: Setting[] = [
  ...mqttSettings('CW_FRONTEND', 'cradlewatch-frontend-<host name>'),
  FLEET_FILE_SETTING,
  ...httpSettings('CW_FRONTEND'),
];

export function loadFrontendConfig(sources: ConfigSources = {}): FrontendConfig {
  return loadSettings(frontendConfigSchema, FRONTEND_SETTINGS, sources);
}

import { z } from 'zod';

/** The services that name their metrics `cradlewatch_<service>_…` and answer `/healthz` as themselves. */
export const SERVICES = ['broker', 'ingest', 'rules', 'frontend'] as const;
export type Service = (typeof SERVICES)[number];

export const healthCheckSchema = z.object({
  name: z.string().min(1),
  ok: z.boolean(),
  /** Why the check fails, in words an operator can act on; absent when it passes. */
  reason: z.string().optional(),
});
export type HealthCheckResult = z.infer<typeof healthCheckSchema>;

/**
 * The one `/healthz` body every process answers, HTTP 200 when `status` is ok and 503 when not. `service`
 * is a service name, or `cradlewatch` when `cradlewatch up` answers for all of them at once (its check
 * names then start with the service's: `ingest.influxdb`).
 */
export const healthSchema = z.object({
  status: z.enum(['ok', 'fail']),
  service: z.string().min(1),
  checks: z.array(healthCheckSchema),
});
export type Health = z.infer<typeof healthSchema>;

import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Health, Service } from '../../protocol/health.ts';
import { type HealthChecks, runChecks } from './health.ts';
import { processRegistry } from './registry.ts';

/** What a service gives the ops routes: its metrics and the checks its health depends on. */
export interface OpsSource {
  service: Service;
  registries: Registry[];
  checks: HealthChecks;
}

/** The body of `/healthz` for these sources: one service as itself, several (`cradlewatch up`) as one. */
async function health(sources: readonly OpsSource[]): Promise<Health> {
  const single = sources.length === 1 ? sources[0] : undefined;
  const checks = (
    await Promise.all(sources.map((s) => runChecks(s.checks, single ? '' : `${s.service}.`)))
  ).flat();
  return {
    status: checks.every((c) => c.ok) ? 'ok' : 'fail',
    service: single?.service ?? 'cradlewatch',
    checks,
  };
}

/**
 * `GET /healthz` (200 when every check passes, 503 with the failing checks' reasons when not) and
 * `GET /metrics` (Prometheus text of the sources' registries and the process's standard metrics), the same
 * for every service. Registries are merged once here, so two metrics with one name fail at start.
 */
export function registerOpsRoutes(app: FastifyInstance, sources: readonly OpsSource[]): void {
  const merged = Registry.merge([...sources.flatMap((s) => s.registries), processRegistry()]);
  app.get('/healthz', async (_request, reply) => {
    const body = await health(sources);
    return reply.code(body.status === 'ok' ? 200 : 503).send(body);
  });
  app.get('/metrics', async (_request, reply) => reply.type(merged.contentType).send(await merged.metrics()));
}

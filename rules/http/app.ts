import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry } from 'prom-client';
import { componentLogger } from '../../lib/logger.ts';
import { metricPrefix, registerOpsRoutes } from '../../lib/ops/index.ts';
import { SseHub } from '../channels/sse.ts';
import { Access, authenticator } from './access.ts';
import type { HttpConfig } from './config.ts';
import type { HttpDeps, RouteOptions } from './deps.ts';
import { answerErrors } from './errors.ts';
import { alertRoutes } from './routes/alerts.ts';
import { boardRoutes } from './routes/board.ts';
import { checkRoutes } from './routes/checks.ts';
import { pageRoutes } from './routes/page.ts';
import { securityHeaders } from './security.ts';

/** Requests by route and status, and their duration, on the rules' /metrics. */
function requestMetrics(app: FastifyInstance): Registry {
  const registry = new Registry();
  const M = metricPrefix('rules');
  const requests = new Counter({
    name: `${M}http_requests_total`,
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${M}http_request_duration_seconds`,
    help: 'HTTP request duration',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });
  return registry;
}

/**
 * The rules service's HTTP face: the alert API, its SSE stream, the board, nap sessions and the nap-check
 * log, and the caregiver page. Everything under /api needs a bearer token; a caregiver token reaches one
 * centre only, and anything of another centre answers 404, as if it did not exist.
 */
export async function buildApp(
  config: HttpConfig,
  deps: HttpDeps,
): Promise<{ app: FastifyInstance; hub: SseHub }> {
  const log = componentLogger(deps.log, 'http');
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Slow clients: node checks these bounds every `connectionsCheckingInterval` (30 s by default, too
    // coarse for a 10 s request timeout), and fastify's default request timeout is none at all.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.idleTimeoutMs,
    keepAliveTimeout: 5_000,
    bodyLimit: config.bodyLimitBytes,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
    },
  });
  securityHeaders(app);
  const hub = new SseHub(log, {
    ...config.sse,
    maxClientsPerOwner: config.sse.maxClientsPerToken,
    backlog: (afterSeq, center) => deps.alerts.transitionsSince(afterSeq, center ?? undefined),
  });
  const registry = requestMetrics(app);
  answerErrors(app);

  const unsubscribeAlerts = deps.alerts.subscribe((t) => hub.deliver(t));
  const unsubscribeBoard = deps.board.subscribe((event) => {
    if (event.type === 'board') hub.broadcast(event.center, 'board', { center: event.center });
    else hub.broadcast(event.record.center, 'nap-check', event.record);
  });
  // preClose, not onClose: the server waits for open connections, and event streams never end by themselves.
  app.addHook('preClose', async () => {
    unsubscribeAlerts();
    unsubscribeBoard();
    await hub.close();
  });

  const [own, ...others] = deps.ops;
  registerOpsRoutes(app, [{ ...own, registries: [...own.registries, registry] }, ...others]);

  const options: RouteOptions = { config, deps, access: new Access(deps.fleet, deps.alerts), hub };
  await app.register(async (api) => {
    api.addHook('onRequest', authenticator(config.tokens));
    await api.register(alertRoutes, options);
    await api.register(boardRoutes, options);
    await api.register(checkRoutes, options);
  });
  await app.register(pageRoutes);

  return { app, hub };
}

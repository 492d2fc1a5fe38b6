import { createHash } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { Counter, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import {
  type AlertService,
  type CommandResult,
  cursorFloor,
  isAfterCursor,
  parseStreamCursor,
} from '../../protocol/alerts.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import { idSchema } from '../../protocol/ids.ts';
import { SEVERITIES, type Alert } from '../../protocol/payloads.ts';
import { componentLogger, type Logger } from '../../lib/logger.ts';
import { metricPrefix, type OpsSource, registerOpsRoutes } from '../../lib/ops/index.ts';
import { SseHub } from '../channels/sse.ts';
import type { BoardService } from '../contracts.ts';
import { pageAssets } from './assets.ts';
import { securityHeaders } from './security.ts';
import type { HttpConfig, TokenConfig } from './config.ts';
import { checksCsv, localDay } from './sheet.ts';

export interface HttpDeps {
  alerts: AlertService;
  board: BoardService;
  fleet: () => FleetIndex;
  log: Logger;
  /** The services `/healthz` and `/metrics` answer for: the rules first, then any sharing the process. */
  ops: [OpsSource, ...OpsSource[]];
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: TokenConfig;
  }
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fastify validates with its own Ajv (draft-07); zod stays the single source of each shape. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const daySchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const centerQuery = z.object({ center: idSchema.optional() });
const alertsQuery = centerQuery.extend({ includeResolved: z.boolean().optional() });
const streamQuery = centerQuery.extend({ token: z.string().optional(), lastEventId: z.string().optional() });
const idParams = z.object({ id: idSchema });
const roomParams = z.object({ room: idSchema });
const checkParams = z.object({ id: z.string().min(1).max(200) });
const napBody = z.object({ state: z.enum(['started', 'ended']) });
const checksQuery = centerQuery.extend({ day: daySchema.optional() });
const errorBody = z.object({ error: z.string(), message: z.string() });

const severityRank = (a: Alert) => SEVERITIES.indexOf(a.severity);
/** Most severe first, then the unacknowledged, then the oldest: the order a caregiver should act in. */
export function alertOrder(a: Alert, b: Alert): number {
  return (
    severityRank(b) - severityRank(a) ||
    Number(a.state === 'acknowledged') - Number(b.state === 'acknowledged') ||
    a.raisedAt - b.raisedAt
  );
}

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
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
  const users = new Map(config.tokens.map((t) => [tokenKey(t.token), t]));

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

  app.setErrorHandler(
    (error: Error & { statusCode?: number; validation?: unknown; code?: string }, request, reply) => {
      if (error instanceof HttpError)
        return reply.code(error.statusCode).send({ error: error.code, message: error.message });
      if (error.validation) return reply.code(400).send({ error: 'bad-request', message: error.message });
      if (error.statusCode && error.statusCode < 500) {
        return reply.code(error.statusCode).send({ error: 'bad-request', message: error.message });
      }
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send({ error: 'internal', message: 'internal error' });
    },
  );
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not-found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

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

  const authenticate = async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    let token: string | undefined;
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) throw new HttpError(401, 'unauthorized', 'Authorization must be "Bearer <token>"');
      token = match[1];
    } else if (request.routeOptions.url === '/api/alerts/stream') {
      // EventSource cannot send headers, so the stream alone also takes the token in the query string.
      token = (request.query as { token?: string }).token;
    }
    if (!token) throw new HttpError(401, 'unauthorized', 'missing bearer token');
    const user = users.get(tokenKey(token));
    if (!user) throw new HttpError(401, 'unauthorized', 'unknown token');
    request.user = user;
  };

  /** The centre a request acts on: a caregiver's own, or the one a supervisor names (`required`). */
  const centerOf = (
    request: FastifyRequest,
    asked: string | undefined,
    required: boolean,
  ): string | undefined => {
    const user = request.user!;
    if (user.role === 'caregiver') {
      if (asked !== undefined && asked !== user.center) {
        throw new HttpError(403, 'forbidden', `this token is for centre ${user.center}, not ${asked}`);
      }
      return user.center;
    }
    if (asked !== undefined && !deps.fleet().centers.has(asked))
      throw new HttpError(404, 'not-found', `no centre ${asked}`);
    if (required && asked === undefined)
      throw new HttpError(400, 'bad-request', 'a supervisor must name a centre (?center=)');
    return asked;
  };

  const roomOf = (request: FastifyRequest, room: string, asked: string | undefined) => {
    const center = centerOf(request, asked, false);
    const found = deps.fleet().rooms.get(room);
    if (!found || (center !== undefined && found.center !== center))
      throw new HttpError(404, 'not-found', `no room ${room}`);
    return found;
  };

  const visibleAlert = (request: FastifyRequest, id: string): Alert => {
    const alert = deps.alerts.get(id);
    const user = request.user!;
    if (!alert || (user.role === 'caregiver' && alert.center !== user.center)) {
      throw new HttpError(404, 'not-found', `no alert ${id}`);
    }
    return alert;
  };

  const commandReply = (result: CommandResult, reply: FastifyReply) => {
    if (result.ok) return reply.send({ alert: result.alert });
    const status = { 'not-found': 404, forbidden: 403, conflict: 409 }[result.error];
    return reply.code(status).send({ error: result.error, message: result.message });
  };

  const errors = {
    400: jsonSchema(errorBody),
    401: jsonSchema(errorBody),
    403: jsonSchema(errorBody),
    404: jsonSchema(errorBody),
  };

  const [own, ...others] = deps.ops;
  registerOpsRoutes(app, [{ ...own, registries: [...own.registries, registry] }, ...others]);

  await app.register(async (api) => {
    api.addHook('onRequest', authenticate);

    api.get('/api/me', async (request) => {
      const user = request.user!;
      const fleet = deps.fleet();
      const centers =
        user.role === 'caregiver' ? [fleet.centers.get(user.center!)].filter(Boolean) : fleet.fleet.centers;
      return {
        name: user.name,
        role: user.role,
        center: user.center ?? null,
        centers,
        defaultLocale: config.defaultLocale,
      };
    });

    api.get<{ Querystring: z.infer<typeof alertsQuery> }>(
      '/api/alerts',
      { schema: { querystring: jsonSchema(alertsQuery), response: errors } },
      async (request) => {
        const { query } = request;
        const center = centerOf(request, query.center, false);
        const alerts = deps.alerts.list({ center, includeResolved: query.includeResolved ?? false });
        return { alerts: [...alerts].sort(alertOrder) };
      },
    );

    api.post<{ Params: z.infer<typeof idParams> }>(
      '/api/alerts/:id/ack',
      { schema: { params: jsonSchema(idParams), response: errors } },
      async (request, reply) => {
        const { id } = request.params;
        visibleAlert(request, id);
        return commandReply(await deps.alerts.acknowledge(id, request.user!.name), reply);
      },
    );

    api.post<{ Params: z.infer<typeof idParams> }>(
      '/api/alerts/:id/resolve',
      { schema: { params: jsonSchema(idParams), response: errors } },
      async (request, reply) => {
        const { id } = request.params;
        visibleAlert(request, id);
        return commandReply(await deps.alerts.resolve(id, request.user!.name), reply);
      },
    );

    api.get<{ Querystring: z.infer<typeof streamQuery> }>(
      '/api/alerts/stream',
      { schema: { querystring: jsonSchema(streamQuery), response: errors } },
      async (request, reply) => {
        const { query } = request;
        const center = centerOf(request, query.center, false) ?? null;
        const raw = request.headers['last-event-id'] ?? query.lastEventId;
        const cursor = raw === undefined || raw === '' ? undefined : parseStreamCursor(String(raw));
        if (raw && !cursor) {
          throw new HttpError(
            400,
            'bad-request',
            'Last-Event-ID must be a transition sequence number or a centre:seq list',
          );
        }
        const backlog = cursor
          ? deps.alerts
              .transitionsSince(cursorFloor(cursor), center ?? undefined)
              .filter((t) => isAfterCursor(cursor, t))
          : [];
        const owner = tokenKey(request.user!.token);
        if (!hub.admits(owner))
          throw new HttpError(503, 'unavailable', 'too many event streams open; close one and retry');
        reply.hijack();
        hub.attach(reply.raw, center, backlog, cursor, owner);
      },
    );

    api.get<{ Querystring: z.infer<typeof centerQuery> }>(
      '/api/board',
      { schema: { querystring: jsonSchema(centerQuery), response: errors } },
      async (request) => {
        const { query } = request;
        const center = centerOf(request, query.center, true)!;
        const rooms = deps.board
          .rooms(center)
          .map((room) => ({ ...room, openAlerts: [...room.openAlerts].sort(alertOrder) }));
        return { center, serverTime: Date.now(), rooms };
      },
    );

    api.post<{
      Params: z.infer<typeof roomParams>;
      Querystring: z.infer<typeof centerQuery>;
      Body: z.infer<typeof napBody>;
    }>(
      '/api/rooms/:room/nap',
      {
        schema: {
          params: jsonSchema(roomParams),
          querystring: jsonSchema(centerQuery),
          body: jsonSchema(napBody),
          response: errors,
        },
      },
      async (request) => {
        const { room } = request.params;
        const { state } = request.body;
        const found = roomOf(request, room, request.query.center);
        await deps.board.setNap(found.center, room, state, request.user!.name);
        return { center: found.center, room, state };
      },
    );

    type ChecksRoute = { Params: z.infer<typeof roomParams>; Querystring: z.infer<typeof checksQuery> };
    const checksOf = (request: FastifyRequest<ChecksRoute>) => {
      const { room } = request.params;
      const { query } = request;
      const found = roomOf(request, room, query.center);
      const timeZone = deps.fleet().centers.get(found.center)?.timezone ?? 'UTC';
      const day = query.day ?? localDay(Date.now(), timeZone);
      return { room: found, day, timeZone, records: deps.board.napChecks(found.center, room, day) };
    };
    const checksSchema = {
      params: jsonSchema(roomParams),
      querystring: jsonSchema(checksQuery),
      response: errors,
    };

    api.get<ChecksRoute>('/api/rooms/:room/checks', { schema: checksSchema }, async (request) => {
      const { room, day, records } = checksOf(request);
      return { center: room.center, room: room.id, day, records };
    });

    api.get<ChecksRoute>('/api/rooms/:room/checks.csv', { schema: checksSchema }, async (request, reply) => {
      const { room, day, timeZone, records } = checksOf(request);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="nap-checks-${room.id}-${day}.csv"`)
        .send(checksCsv(records, deps.fleet(), timeZone));
    });

    api.post<{ Params: z.infer<typeof checkParams>; Querystring: z.infer<typeof centerQuery> }>(
      '/api/checks/:id/confirm',
      {
        schema: {
          params: jsonSchema(checkParams),
          querystring: jsonSchema(centerQuery),
          response: errors,
        },
      },
      async (request) => {
        const { id } = request.params;
        const center = centerOf(request, request.query.center, true)!;
        const record = deps.board.confirmCheck(center, id, request.user!.name);
        if (!record) throw new HttpError(404, 'not-found', `no nap check ${id}`);
        return { record };
      },
    );
  });

  const noCache = { 'cache-control': 'no-cache' };
  app.get('/', async (_request, reply) =>
    reply
      .headers(noCache)
      .type('text/html; charset=utf-8')
      .send((await pageAssets()).html),
  );
  app.get('/assets/app.js', async (_request, reply) =>
    reply
      .headers(noCache)
      .type('text/javascript; charset=utf-8')
      .send((await pageAssets()).js),
  );
  app.get('/assets/app.css', async (_request, reply) =>
    reply
      .headers(noCache)
      .type('text/css; charset=utf-8')
      .send((await pageAssets()).css),
  );

  return { app, hub };
}

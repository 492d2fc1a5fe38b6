import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  type CommandResult,
  cursorFloor,
  isAfterCursor,
  parseStreamCursor,
} from '../../../protocol/alerts.ts';
import { idSchema } from '../../../protocol/ids.ts';
import { type Alert, SEVERITIES } from '../../../protocol/payloads.ts';
import { centerQuery, tokenKey } from '../access.ts';
import type { RouteOptions } from '../deps.ts';
import { errorResponses, HttpError, jsonSchema } from '../errors.ts';

const alertsQuery = centerQuery.extend({ includeResolved: z.boolean().optional() });
const streamQuery = centerQuery.extend({ token: z.string().optional(), lastEventId: z.string().optional() });
const idParams = z.object({ id: idSchema });

const severityRank = (a: Alert) => SEVERITIES.indexOf(a.severity);
/** Most severe first, then the unacknowledged, then the oldest: the order a caregiver should act in. */
export function alertOrder(a: Alert, b: Alert): number {
  return (
    severityRank(b) - severityRank(a) ||
    Number(a.state === 'acknowledged') - Number(b.state === 'acknowledged') ||
    a.raisedAt - b.raisedAt
  );
}

const commandReply = (result: CommandResult, reply: FastifyReply) => {
  if (result.ok) return reply.send({ alert: result.alert });
  const status = { 'not-found': 404, forbidden: 403, conflict: 409 }[result.error];
  return reply.code(status).send({ error: result.error, message: result.message });
};

/** The open alerts, acknowledging and resolving one, and the event stream of their transitions. */
export const alertRoutes: FastifyPluginAsync<RouteOptions> = async (api, { deps, access, hub }) => {
  api.get<{ Querystring: z.infer<typeof alertsQuery> }>(
    '/api/alerts',
    { schema: { querystring: jsonSchema(alertsQuery), response: errorResponses } },
    async (request) => {
      const { query } = request;
      const center = access.centerOf(request, query.center, false);
      const alerts = deps.alerts.list({ center, includeResolved: query.includeResolved ?? false });
      return { alerts: [...alerts].sort(alertOrder) };
    },
  );

  api.post<{ Params: z.infer<typeof idParams> }>(
    '/api/alerts/:id/ack',
    { schema: { params: jsonSchema(idParams), response: errorResponses } },
    async (request, reply) => {
      const { id } = request.params;
      access.visibleAlert(request, id);
      return commandReply(await deps.alerts.acknowledge(id, request.user!.name), reply);
    },
  );

  api.post<{ Params: z.infer<typeof idParams> }>(
    '/api/alerts/:id/resolve',
    { schema: { params: jsonSchema(idParams), response: errorResponses } },
    async (request, reply) => {
      const { id } = request.params;
      access.visibleAlert(request, id);
      return commandReply(await deps.alerts.resolve(id, request.user!.name), reply);
    },
  );

  api.get<{ Querystring: z.infer<typeof streamQuery> }>(
    '/api/alerts/stream',
    { schema: { querystring: jsonSchema(streamQuery), response: errorResponses } },
    async (request, reply) => {
      const { query } = request;
      const center = access.centerOf(request, query.center, false) ?? null;
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
};

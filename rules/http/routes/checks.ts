import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { idSchema } from '../../../protocol/ids.ts';
import { centerQuery } from '../access.ts';
import type { RouteOptions } from '../deps.ts';
import { errorResponses, HttpError, jsonSchema } from '../errors.ts';
import { checksCsv, localDay } from '../sheet.ts';

const daySchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const roomParams = z.object({ room: idSchema });
const checksQuery = centerQuery.extend({ day: daySchema.optional() });
const checkParams = z.object({ id: z.string().min(1).max(200) });

type ChecksRoute = { Params: z.infer<typeof roomParams>; Querystring: z.infer<typeof checksQuery> };

/** A room's nap-check sheet for a day (JSON or CSV), and confirming a check in person. */
export const checkRoutes: FastifyPluginAsync<RouteOptions> = async (api, { deps, access }) => {
  const checksOf = (request: FastifyRequest<ChecksRoute>) => {
    const { room } = request.params;
    const { query } = request;
    const found = access.roomOf(request, room, query.center);
    const timeZone = deps.fleet().centers.get(found.center)?.timezone ?? 'UTC';
    const day = query.day ?? localDay(Date.now(), timeZone);
    return { room: found, day, timeZone, records: deps.board.napChecks(found.center, room, day) };
  };
  const checksSchema = {
    params: jsonSchema(roomParams),
    querystring: jsonSchema(checksQuery),
    response: errorResponses,
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
        response: errorResponses,
      },
    },
    async (request) => {
      const { id } = request.params;
      const center = access.centerOf(request, request.query.center, true)!;
      const record = deps.board.confirmCheck(center, id, request.user!.name);
      if (!record) throw new HttpError(404, 'not-found', `no nap check ${id}`);
      return { record };
    },
  );
};

import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { idSchema } from '../../../protocol/ids.ts';
import { centerQuery } from '../access.ts';
import type { RouteOptions } from '../deps.ts';
import { errorResponses, jsonSchema } from '../errors.ts';
import { alertOrder } from './alerts.ts';

const roomParams = z.object({ room: idSchema });
const napBody = z.object({ state: z.enum(['started', 'ended']) });

/** Who the token is, the board of a centre's rooms, and starting or ending a room's nap. */
export const boardRoutes: FastifyPluginAsync<RouteOptions> = async (api, { config, deps, access }) => {
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

  api.get<{ Querystring: z.infer<typeof centerQuery> }>(
    '/api/board',
    { schema: { querystring: jsonSchema(centerQuery), response: errorResponses } },
    async (request) => {
      const { query } = request;
      const center = access.centerOf(request, query.center, true)!;
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
        response: errorResponses,
      },
    },
    async (request) => {
      const { room } = request.params;
      const { state } = request.body;
      const found = access.roomOf(request, room, request.query.center);
      await deps.board.setNap(found.center, room, state, request.user!.name);
      return { center: found.center, room, state };
    },
  );
};

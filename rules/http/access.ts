import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AlertService } from '../../protocol/alerts.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import { idSchema } from '../../protocol/ids.ts';
import type { Alert } from '../../protocol/payloads.ts';
import type { TokenConfig } from './config.ts';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user?: TokenConfig;
  }
}

/** The `?center=` most routes take: a supervisor names a centre with it, a caregiver may repeat their own. */
export const centerQuery = z.object({ center: idSchema.optional() });

/** Tokens are looked up by their hash, so the table in memory does not hold them in the clear. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The onRequest hook of /api: the bearer token's user on `request.user`, or 401. */
export function authenticator(tokens: TokenConfig[]) {
  const users = new Map(tokens.map((t) => [tokenKey(t.token), t]));
  return async (request: FastifyRequest) => {
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
}

/**
 * What an authenticated request may reach. A caregiver token sees one centre: anything of another centre
 * is not found, naming another centre is forbidden.
 */
export class Access {
  constructor(
    private readonly fleet: () => FleetIndex,
    private readonly alerts: AlertService,
  ) {}

  /** The centre a request acts on: a caregiver's own, or the one a supervisor names (`required`). */
  centerOf(request: FastifyRequest, asked: string | undefined, required: boolean): string | undefined {
    const user = request.user!;
    if (user.role === 'caregiver') {
      if (asked !== undefined && asked !== user.center) {
        throw new HttpError(403, 'forbidden', `this token is for centre ${user.center}, not ${asked}`);
      }
      return user.center;
    }
    if (asked !== undefined && !this.fleet().centers.has(asked))
      throw new HttpError(404, 'not-found', `no centre ${asked}`);
    if (required && asked === undefined)
      throw new HttpError(400, 'bad-request', 'a supervisor must name a centre (?center=)');
    return asked;
  }

  roomOf(request: FastifyRequest, room: string, asked: string | undefined) {
    const center = this.centerOf(request, asked, false);
    const found = this.fleet().rooms.get(room);
    if (!found || (center !== undefined && found.center !== center))
      throw new HttpError(404, 'not-found', `no room ${room}`);
    return found;
  }

  visibleAlert(request: FastifyRequest, id: string): Alert {
    const alert = this.alerts.get(id);
    const user = request.user!;
    if (!alert || (user.role === 'caregiver' && alert.center !== user.center)) {
      throw new HttpError(404, 'not-found', `no alert ${id}`);
    }
    return alert;
  }
}

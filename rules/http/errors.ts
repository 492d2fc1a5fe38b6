import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

/** A refusal a route throws; the error handler answers it as `{error, message}` with its status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fastify validates with its own Ajv (draft-07); zod stays the single source of each shape. */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const errorBody = z.object({ error: z.string(), message: z.string() });

/** The error answers every /api route declares. */
export const errorResponses = {
  400: jsonSchema(errorBody),
  401: jsonSchema(errorBody),
  403: jsonSchema(errorBody),
  404: jsonSchema(errorBody),
};

/** Every failure as `{error, message}`: refusals with their own status, anything unexpected as a logged 500. */
export function answerErrors(app: FastifyInstance): void {
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
}

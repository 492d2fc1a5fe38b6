import type { FastifyPluginAsync } from 'fastify';
import { pageAssets } from '../assets.ts';

const noCache = { 'cache-control': 'no-cache' };

/** The caregiver page and its bundle, outside /api: the page asks for a token itself. */
export const pageRoutes: FastifyPluginAsync = async (app) => {
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
};

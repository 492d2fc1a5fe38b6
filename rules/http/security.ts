import type { FastifyInstance } from 'fastify';

/**
 * The headers every response of the rules service's HTTP server carries (the project's caregiver-page
 * policy, rules/http/README.md): the page loads nothing but its own script and stylesheet, runs no inline
 * script or style, cannot be framed, and sends no referrer (a token in a URL never leaves in one).
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/**
 * Set on the raw response before any route runs, so they are on every answer: routes, errors, 404s, and
 * the event stream, which writes its own head after fastify lets go of it.
 */
export function securityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(name, value);
    // Alerts, boards and sheets name infants and are per token: no shared or browser cache keeps them.
    if (request.url.startsWith('/api/')) reply.raw.setHeader('cache-control', 'no-store');
  });
}

import { z } from 'zod';
import { portSchema } from '../../protocol/config.ts';
import { idSchema } from '../../protocol/ids.ts';
import { localeSchema } from '../../protocol/payloads.ts';
import type { Setting } from '../../protocol/settings.ts';

export const tokenSchema = z
  .object({
    /** Long random strings: the token is the whole credential. */
    token: z.string().min(16, 'tokens must be at least 16 characters'),
    role: z.enum(['caregiver', 'supervisor']),
    /** The one centre a caregiver sees; a supervisor sees all. */
    center: idSchema.optional(),
    /** Who acts with this token: recorded on acknowledgements, nap sessions and checks. */
    name: z.string().min(1).max(128),
  })
  .refine((t) => t.role === 'supervisor' || t.center !== undefined, {
    message: 'a caregiver token needs a center',
    path: ['center'],
  });
export type TokenConfig = z.infer<typeof tokenSchema>;

export const httpConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: portSchema.default(8080),
    tokens: z.array(tokenSchema).default([]),
    /** The page's language until a user switches. */
    defaultLocale: localeSchema.default('zh-CN'),
    /**
     * Longest a client may take to send a whole request, headers and body. A client that trickles a body
     * (1 byte every few seconds) holds a socket and a parser for nothing; it is cut off at this bound.
     */
    requestTimeoutMs: z.int().min(100).default(10_000),
    /** Longest a client may take to send the request headers. */
    headersTimeoutMs: z.int().min(100).default(5_000),
    /** A socket with no traffic either way for this long is closed; event streams send a heartbeat well within it. */
    idleTimeoutMs: z.int().min(1_000).default(120_000),
    /** The API's bodies are a few bytes (`{"state":"started"}`); anything much larger is refused with 413. */
    bodyLimitBytes: z
      .int()
      .min(64)
      .default(16 * 1024),
    sse: z
      .object({
        heartbeatMs: z.int().min(100).default(15_000),
        /** Unsent bytes past which a client is written no more until its socket drains. */
        maxBufferedBytes: z
          .int()
          .min(1024)
          .default(1024 * 1024),
        /** A client whose socket has not drained for this long is disconnected. */
        stallMs: z.int().min(100).default(10_000),
        /** Event streams open at most, and per token (one token may serve a room's tablets). */
        maxClients: z.int().min(1).default(5_000),
        maxClientsPerToken: z.int().min(1).default(100),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.headersTimeoutMs > config.requestTimeoutMs)
      ctx.addIssue({
        code: 'custom',
        path: ['headersTimeoutMs'],
        message: 'must not exceed requestTimeoutMs',
      });
    if (config.idleTimeoutMs <= config.sse.heartbeatMs)
      ctx.addIssue({
        code: 'custom',
        path: ['idleTimeoutMs'],
        message: 'must exceed sse.heartbeatMs, or idle event streams are cut between heartbeats',
      });
    const seen = new Set<string>();
    config.tokens.forEach((t, i) => {
      if (seen.has(t.token))
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'token'], message: 'duplicate token' });
      seen.add(t.token);
    });
  });
export type HttpConfig = z.infer<typeof httpConfigSchema>;

/** The listen address and port of a service serving this app; `prefix` e.g. `CW_RULES`. */
export function httpSettings(prefix: string): Setting[] {
  return [
    {
      path: 'http.host',
      env: `${prefix}_HTTP_HOST`,
      flag: '--http-host <host>',
      help: 'HTTP listen address',
    },
    {
      path: 'http.port',
      env: `${prefix}_HTTP_PORT`,
      flag: '--http-port <port>',
      help: 'HTTP port, 0 for any free one',
    },
  ];
}

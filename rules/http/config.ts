import { z } from 'zod';
import { portSchema } from '../../protocol/config.ts';
import { idSchema } from '../../protocol/ids.ts';
import { localeSchema } from '../../protocol/payloads.ts';

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
    sse: z
      .object({
        heartbeatMs: z.int().min(100).default(15_000),
        maxBufferedBytes: z
          .int()
          .min(1024)
          .default(1024 * 1024),
      })
      .default({ heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024 }),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.tokens.forEach((t, i) => {
      if (seen.has(t.token))
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'token'], message: 'duplicate token' });
      seen.add(t.token);
    });
  });
export type HttpConfig = z.infer<typeof httpConfigSchema>;

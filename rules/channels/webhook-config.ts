import { z } from 'zod';
import { idSchema } from '../../protocol/ids.ts';
import { type Alert, type Locale, localeSchema, severitySchema } from '../../protocol/payloads.ts';

export const webhookSchema = z.object({
  name: idSchema,
  url: z.url(),
  /** `json`: the transition as JSON; `wecom` / `dingtalk`: those group robots' markdown messages. */
  format: z.enum(['json', 'wecom', 'dingtalk']).default('json'),
  /** Infant display names leave the centre only when a webhook is explicitly trusted with them. */
  includeNames: z.boolean().default(false),
  locale: localeSchema.default('zh-CN'),
  /** Only these centres; all when absent. */
  centers: z.array(idSchema).optional(),
  minSeverity: severitySchema.default('info'),
  /** `supervisors`: only transitions meant for supervisors (escalations). */
  audience: z.enum(['caregivers', 'supervisors']).default('caregivers'),
  /** DingTalk robots with signing ("加签") enabled. */
  secret: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /**
   * At most `messages` requests in any `windowS` seconds. Default for `wecom` and `dingtalk`: 20 a minute,
   * their robots' limit (DingTalk blocks a robot for 10 minutes past it); none for `json`.
   */
  rateLimit: z.object({ messages: z.int().min(1), windowS: z.number().positive().max(86_400) }).optional(),
  /** Transitions held at most; past it the oldest reminder (else the oldest) is dropped, counted and logged. */
  queueSize: z.int().min(1).max(100_000).default(1000),
  /** Attempts before a request the target refuses (a robot errcode other than busy/rate limit) is given up. */
  maxAttempts: z.int().min(1).max(50).default(6),
  backoffMs: z.int().min(1).default(500),
  maxBackoffMs: z.int().min(1).default(30_000),
  timeoutMs: z.int().min(100).default(5_000),
  /** How long `close` keeps trying to empty the queue before giving up on what is left. */
  closeTimeoutMs: z.int().min(0).default(5_000),
});
export type WebhookConfig = z.infer<typeof webhookSchema>;

/** Renders an alert's text; names only when asked (rules/text renderAlertText). */
export type AlertText = (alert: Alert, locale: Locale, withNames: boolean) => string;

/** The rate limit a webhook keeps: its own, or its robot's (20 a minute). */
export function rateLimitOf(config: WebhookConfig): { messages: number; windowS: number } | undefined {
  return config.rateLimit ?? (config.format === 'json' ? undefined : { messages: 20, windowS: 60 });
}

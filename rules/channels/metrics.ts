import { Counter, Gauge, Registry } from 'prom-client';
import { metricPrefix } from '../../lib/ops/index.ts';

const M = metricPrefix('rules');

/**
 * Channel counters live in their own registry, created once per process, so several channel sets (tests,
 * `cradlewatch up`) share them; the rules service serves it on GET /metrics.
 */
export const channelRegistry = new Registry();

export const channelMetrics = {
  delivered: new Counter({
    name: `${M}channel_delivered_total`,
    help: 'Alert transitions a channel handed to its peer successfully',
    labelNames: ['channel'] as const,
    registers: [channelRegistry],
  }),
  failed: new Counter({
    name: `${M}channel_failed_total`,
    help: 'Alert deliveries that failed (after all retries, for webhooks)',
    labelNames: ['channel'] as const,
    registers: [channelRegistry],
  }),
  retried: new Counter({
    name: `${M}channel_retries_total`,
    help: 'Webhook delivery attempts that were retried',
    labelNames: ['channel'] as const,
    registers: [channelRegistry],
  }),
  dropped: new Counter({
    name: `${M}channel_dropped_total`,
    help: 'Alert transitions dropped because a per-endpoint queue was full',
    labelNames: ['channel'] as const,
    registers: [channelRegistry],
  }),
  sseBehind: new Counter({
    name: 'cradlewatch_rules_sse_behind_total',
    help: 'Times an SSE client fell behind (its socket backed up) and was caught up from the backlog when it drained',
    registers: [channelRegistry],
  }),
  sseClients: new Gauge({
    name: `${M}sse_clients`,
    help: 'Connected server-sent-event clients',
    registers: [channelRegistry],
  }),
};

/** Per webhook, what became of every transition it took, and how it kept within its target's limits. */
export const webhookMetrics = {
  transitions: new Counter({
    name: 'cradlewatch_rules_webhook_transitions_total',
    help: 'Transitions a webhook took off its queue, by outcome: sent alone, carried by a digest, failed (the target refused them for good), dropped (queue overflow, or closed without an outbox)',
    labelNames: ['webhook', 'outcome'] as const,
    registers: [channelRegistry],
  }),
  messages: new Counter({
    name: 'cradlewatch_rules_webhook_messages_total',
    help: 'Requests a webhook target accepted, by type (single transition or digest)',
    labelNames: ['webhook', 'type'] as const,
    registers: [channelRegistry],
  }),
  rateLimited: new Counter({
    name: 'cradlewatch_rules_webhook_rate_limited_total',
    help: 'Requests the target answered with "too fast" or "busy" (HTTP 429, robot errcode 45009, 130101, -1)',
    labelNames: ['webhook'] as const,
    registers: [channelRegistry],
  }),
  throttled: new Counter({
    name: 'cradlewatch_rules_webhook_throttled_total',
    help: 'Times a webhook waited for its rate budget before sending',
    labelNames: ['webhook'] as const,
    registers: [channelRegistry],
  }),
  queued: new Gauge({
    name: 'cradlewatch_rules_webhook_queued',
    help: 'Transitions waiting in a webhook queue',
    labelNames: ['webhook'] as const,
    registers: [channelRegistry],
  }),
};

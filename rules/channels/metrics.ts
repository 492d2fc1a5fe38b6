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
  sseClients: new Gauge({
    name: `${M}sse_clients`,
    help: 'Connected server-sent-event clients',
    registers: [channelRegistry],
  }),
};

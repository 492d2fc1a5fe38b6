import type { MqttClient } from 'mqtt';
import { z } from 'zod';
import type { AlertChannel } from '../../protocol/alerts.ts';
import type { FleetIndex } from '../../protocol/fleet.ts';
import { localeSchema } from '../../protocol/payloads.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { componentLogger, type Logger } from '../../lib/logger.ts';
import { InfluxHistoryChannel } from './influx.ts';
import { MqttAlertChannel } from './mqtt.ts';
import { Outbox } from './outbox.ts';
import { WebhookChannel } from './webhook.ts';
import { type AlertText, rateLimitOf, webhookSchema } from './webhook-config.ts';
import { renderAlertText } from '../text/index.ts';
import type { DiskGuard } from '../journal/guard.ts';

export { channelRegistry } from './metrics.ts';
export { SseHub } from './sse.ts';
export { webhookSchema, type WebhookConfig } from './webhook-config.ts';

export const channelsConfigSchema = z
  .object({
    mqtt: z.object({ enabled: z.boolean().default(true) }).default({ enabled: true }),
    /** Alert history in InfluxDB; needs the service's InfluxDB connection. */
    history: z
      .object({ enabled: z.boolean().default(true), locale: localeSchema.default('zh-CN') })
      .default({ enabled: true, locale: 'zh-CN' }),
    webhooks: z.array(webhookSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.webhooks.forEach((hook, i) => {
      if (seen.has(hook.name))
        ctx.addIssue({
          code: 'custom',
          path: ['webhooks', i, 'name'],
          message: `duplicate webhook ${hook.name}`,
        });
      seen.add(hook.name);
    });
  });
export type ChannelsConfig = z.infer<typeof channelsConfigSchema>;

export interface ChannelDeps {
  mqtt: MqttClient;
  influx?: InfluxConnection;
  fleet: () => FleetIndex;
  log: Logger;
  /**
   * Where the channels keep their outboxes (the rules service: `<journalDir>/outbox`). Without it a
   * transition is gone when the process is, delivered or not.
   */
  outboxDir?: string;
  /** Where the outboxes report a disk that refuses (the service's, shared with its journal). */
  diskGuard?: DiskGuard;
}

/**
 * The delivery channels the rules service fans every transition out to. The SSE hub is not among them:
 * rules/http owns it, fed from AlertService.subscribe, because it lives and dies with the HTTP server.
 */
export function createChannels(config: ChannelsConfig, deps: ChannelDeps): AlertChannel[] {
  const log = componentLogger(deps.log, 'alert-channels');
  const channels: AlertChannel[] = [];
  const outbox = (name: string, keepSendsMs?: number) =>
    deps.outboxDir === undefined
      ? undefined
      : Outbox.open(deps.outboxDir, name, {
          ...(keepSendsMs === undefined ? {} : { keepSendsMs }),
          ...(deps.diskGuard ? { guard: deps.diskGuard } : {}),
        });
  if (config.mqtt.enabled) channels.push(new MqttAlertChannel(deps.mqtt, log, undefined, outbox('mqtt')));
  if (config.history.enabled) {
    if (!deps.influx)
      throw new Error('channels.history is enabled but the rules service has no InfluxDB connection');
    channels.push(
      new InfluxHistoryChannel(
        deps.influx,
        config.history.locale,
        log,
        undefined,
        undefined,
        outbox('history'),
      ),
    );
  }
  const text: AlertText = (alert, locale, withNames) =>
    renderAlertText(alert, deps.fleet(), { withNames, locale });
  for (const hook of config.webhooks) {
    const windowS = rateLimitOf(hook)?.windowS;
    const box = outbox(`webhook-${hook.name}`, windowS === undefined ? undefined : windowS * 1000);
    channels.push(new WebhookChannel(hook, text, log, box));
  }
  return channels;
}

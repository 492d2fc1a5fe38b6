import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { AlertChannel, AlertTransition } from '../../protocol/alerts.ts';
import {
  type Alert,
  type Locale,
  localeSchema,
  severitySchema,
  SEVERITIES,
} from '../../protocol/payloads.ts';
import { idSchema } from '../../protocol/ids.ts';
import type { Logger } from '../../lib/logger.ts';
import { texts } from '../web/i18n.ts';
import { channelMetrics } from './metrics.ts';

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
  queueSize: z.int().min(1).max(100_000).default(1000),
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

class PermanentError extends Error {}

function formatTime(ms: number, locale: Locale): string {
  return new Date(ms).toLocaleString(locale === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
}

/** The request body a webhook of `format` expects for one transition. */
export function webhookBody(config: WebhookConfig, transition: AlertTransition, text: AlertText): unknown {
  const { alert } = transition;
  const body = text(alert, config.locale, config.includeNames);
  if (config.format === 'json') {
    return {
      kind: transition.kind,
      seq: transition.seq,
      at: transition.at,
      audience: transition.audience,
      alert,
      text: body,
    };
  }
  const tx = texts(config.locale);
  const heading = `[${tx.severity(alert.severity)}] ${tx.rule(alert.rule)} · ${tx.transition(transition.kind)}`;
  const lines = [
    `${tx.t('center')}: ${alert.center}${alert.room ? ` / ${tx.t('room')}: ${alert.room}` : ''}`,
    `${tx.t('raisedAt')}: ${formatTime(alert.raisedAt, config.locale)}`,
    ...(alert.acknowledgedBy ? [`${tx.t('acknowledgedBy')}${alert.acknowledgedBy}`] : []),
  ];
  if (config.format === 'wecom') {
    // WeCom markdown knows three font colours: info (green), comment (grey), warning (orange-red).
    const colour = alert.severity === 'info' || transition.kind === 'resolved' ? 'info' : 'warning';
    return {
      msgtype: 'markdown',
      markdown: {
        content: [`**<font color="${colour}">${heading}</font>**`, body, ...lines.map((l) => `> ${l}`)].join(
          '\n',
        ),
      },
    };
  }
  return {
    msgtype: 'markdown',
    markdown: {
      title: heading,
      text: [`#### ${heading}`, body, '', ...lines.map((l) => `> ${l}  `)].join('\n'),
    },
    at: {
      isAtAll:
        alert.severity === 'critical' && transition.kind !== 'resolved' && transition.kind !== 'acknowledged',
    },
  };
}

/** DingTalk signing: HMAC-SHA256 of "timestamp\nsecret", base64, in the query string. */
export function signedUrl(config: WebhookConfig, now = Date.now()): string {
  if (config.format !== 'dingtalk' || !config.secret) return config.url;
  const sign = createHmac('sha256', config.secret).update(`${now}\n${config.secret}`).digest('base64');
  const url = new URL(config.url);
  url.searchParams.set('timestamp', String(now));
  url.searchParams.set('sign', sign);
  return url.toString();
}

/**
 * One endpoint: a bounded queue drained by one sender, so a slow or dead endpoint only ever holds up its
 * own queue. When the queue is full the oldest transition is dropped (counted): a newer state of the same
 * alert is worth more than an old one.
 */
export class WebhookChannel implements AlertChannel {
  readonly name: string;
  private readonly queue: AlertTransition[] = [];
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly minSeverity: number;

  constructor(
    private readonly config: WebhookConfig,
    private readonly text: AlertText,
    private readonly log: Logger,
  ) {
    this.name = `webhook:${config.name}`;
    this.minSeverity = SEVERITIES.indexOf(config.minSeverity);
  }

  private wants(transition: AlertTransition): boolean {
    const { alert } = transition;
    if (this.config.centers && !this.config.centers.includes(alert.center)) return false;
    if (SEVERITIES.indexOf(alert.severity) < this.minSeverity) return false;
    return this.config.audience === 'caregivers' || transition.audience === 'supervisors';
  }

  deliver(transition: AlertTransition): void {
    if (this.closed || !this.wants(transition)) return;
    if (this.queue.length >= this.config.queueSize) {
      this.queue.shift();
      channelMetrics.dropped.inc({ channel: this.name });
      this.log.warn(
        { webhook: this.config.name, queueSize: this.config.queueSize },
        'webhook queue full: dropped oldest',
      );
    }
    this.queue.push(transition);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    // Taken off the queue before sending, so a full queue drops waiting transitions, never the one in flight.
    for (let transition = this.queue.shift(); transition; transition = this.queue.shift()) {
      try {
        await this.send(transition);
        channelMetrics.delivered.inc({ channel: this.name });
      } catch (error) {
        if (this.abort.signal.aborted) return;
        channelMetrics.failed.inc({ channel: this.name });
        this.log.error(
          { err: error, webhook: this.config.name, alert: transition.alert.id },
          'webhook delivery failed',
        );
      }
    }
  }

  private async send(transition: AlertTransition): Promise<void> {
    const body = JSON.stringify(webhookBody(this.config, transition, this.text));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.attempt(body);
        return;
      } catch (error) {
        if (
          error instanceof PermanentError ||
          attempt >= this.config.maxAttempts ||
          this.abort.signal.aborted
        )
          throw error;
        channelMetrics.retried.inc({ channel: this.name });
        const delay = Math.min(this.config.maxBackoffMs, this.config.backoffMs * 2 ** (attempt - 1));
        // Full jitter keeps many rules processes from retrying an endpoint in lockstep.
        await this.sleep(delay / 2 + Math.random() * (delay / 2));
      }
    }
  }

  private async attempt(body: string): Promise<void> {
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    const response = await fetch(signedUrl(this.config), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.config.headers },
      body,
      signal: AbortSignal.any([timeout, this.abort.signal]),
    });
    const text = await response.text();
    if (response.status === 429 || response.status >= 500) throw new Error(`HTTP ${response.status}`);
    if (!response.ok) throw new PermanentError(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    if (this.config.format !== 'json') {
      // Both robots answer 200 with {errcode, errmsg}; a non-zero errcode (rate limit, bad key) is a failure.
      let errcode: unknown;
      try {
        errcode = (JSON.parse(text) as { errcode?: unknown }).errcode;
      } catch {
        throw new Error(`robot answered with non-JSON: ${text.slice(0, 200)}`);
      }
      if (errcode !== 0) throw new Error(`robot errcode ${String(errcode)}: ${text.slice(0, 200)}`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const draining = this.draining;
    if (!draining) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      draining,
      new Promise((resolve) => (timer = setTimeout(resolve, this.config.closeTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (this.queue.length > 0) {
      this.log.warn(
        { webhook: this.config.name, left: this.queue.length },
        'webhook closed with undelivered transitions',
      );
      channelMetrics.dropped.inc({ channel: this.name }, this.queue.length);
    }
    this.abort.abort();
    await draining;
  }
}

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
import { Backoff, sleep } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import { texts } from '../web/i18n.ts';
import { digestGroups, digestWords, nextOutgoing, type Outgoing } from './digest.ts';
import { channelMetrics, webhookMetrics } from './metrics.ts';
import type { Outbox } from './outbox.ts';
import { SlidingWindow } from './rate.ts';

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

/** The target refused the request for good (a 4xx, or a robot errcode after `maxAttempts`). */
class PermanentError extends Error {}
/** A robot answered with an errcode that is neither success nor "busy": retried up to `maxAttempts`. */
class RefusedError extends Error {}
/** The robot said it is busy or over its limit. Like network errors, timeouts and 5xx: retried without limit. */
class BusyError extends Error {}

/**
 * Robot errcodes that mean "later": WeCom -1 (system busy) and 45009 (over the frequency limit), DingTalk
 * 130101 (sending too fast) and -1.
 */
const BUSY_ERRCODES = new Set([-1, 45009, 130101]);
/** The most a robot takes in one markdown message: WeCom 4,096 bytes of content, DingTalk 20,000. */
const MAX_BYTES = { json: 1_000_000, wecom: 4_000, dingtalk: 18_000 } as const;

/** The rate limit a webhook keeps: its own, or its robot's (20 a minute). */
export function rateLimitOf(config: WebhookConfig): { messages: number; windowS: number } | undefined {
  return config.rateLimit ?? (config.format === 'json' ? undefined : { messages: 20, windowS: 60 });
}

function formatTime(ms: number, locale: Locale): string {
  return new Date(ms).toLocaleString(locale === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
}

/** A WeCom or DingTalk robot markdown message; `details` are quoted under the body. */
function robotBody(
  config: WebhookConfig,
  heading: string,
  body: string[],
  details: string[],
  emphasis: { warn: boolean; atAll: boolean },
): unknown {
  if (config.format === 'wecom') {
    // WeCom markdown knows three font colours: info (green), comment (grey), warning (orange-red).
    const colour = emphasis.warn ? 'warning' : 'info';
    return {
      msgtype: 'markdown',
      markdown: {
        content: [
          `**<font color="${colour}">${heading}</font>**`,
          ...body,
          ...details.map((l) => `> ${l}`),
        ].join('\n'),
      },
    };
  }
  return {
    msgtype: 'markdown',
    markdown: {
      title: heading,
      text: [`#### ${heading}`, ...body, '', ...details.map((l) => `> ${l}  `)].join('\n'),
    },
    at: { isAtAll: emphasis.atAll },
  };
}

/** A transition that should wake people: a critical alert that is new, worse, escalated or still open. */
const calls = (t: AlertTransition) =>
  t.alert.severity === 'critical' && t.kind !== 'resolved' && t.kind !== 'acknowledged';

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
  const details = [
    `${tx.t('center')}: ${alert.center}${alert.room ? ` / ${tx.t('room')}: ${alert.room}` : ''}`,
    `${tx.t('raisedAt')}: ${formatTime(alert.raisedAt, config.locale)}`,
    ...(alert.acknowledgedBy ? [`${tx.t('acknowledgedBy')}${alert.acknowledgedBy}`] : []),
  ];
  return robotBody(config, heading, [body], details, {
    warn: alert.severity !== 'info' && transition.kind !== 'resolved',
    atAll: calls(transition),
  });
}

/**
 * A digest request: one line per alert (its latest state, and what it stands for: "Reminder ×3"), most
 * severe first, as many alerts as the target takes in one message. Returns the body and the transitions it
 * carries; the others stay queued for the next request.
 */
export function digestBody(
  config: WebhookConfig,
  queued: readonly AlertTransition[],
  text: AlertText,
): { body: unknown; transitions: AlertTransition[] } {
  const tx = texts(config.locale);
  const words = digestWords(config.locale);
  const carried: AlertTransition[] = [];
  const lines: string[] = [];
  let bytes = 600;
  for (const group of digestGroups(queued)) {
    const { alert } = group;
    const kinds = group.kinds.map(([k, n]) => (n > 1 ? `${tx.transition(k)} ×${n}` : tx.transition(k)));
    const line = `- [${tx.severity(alert.severity)}] ${tx.rule(alert.rule)} · ${kinds.join(', ')}: ${text(alert, config.locale, config.includeNames)}`;
    const size =
      config.format === 'json'
        ? Buffer.byteLength(JSON.stringify(group.transitions))
        : Buffer.byteLength(line);
    if (carried.length > 0 && bytes + size > MAX_BYTES[config.format]) break;
    bytes += size;
    lines.push(line);
    carried.push(...group.transitions);
  }
  const alerts = new Set(carried.map((t) => t.alert.id)).size;
  const heading = words.heading(carried.length, alerts);
  if (config.format === 'json') {
    return {
      body: { kind: 'digest', transitions: carried, text: [heading, ...lines].join('\n') },
      transitions: carried,
    };
  }
  const top = carried.reduce((a, t) => Math.max(a, SEVERITIES.indexOf(t.alert.severity)), 0);
  const body = robotBody(config, `[${tx.severity(SEVERITIES[top]!)}] ${heading}`, lines, [words.why], {
    warn: top > 0,
    atAll: carried.some(calls),
  });
  return { body, transitions: carried };
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
 * One endpoint: a queue drained by one sender, so a slow or dead endpoint only ever holds up its own queue.
 * The sender keeps the endpoint's rate limit (recorded in the outbox, so a restart does not start a fresh
 * budget) and, when the queue holds more than the budget can carry, coalesces it into digest requests,
 * critical first (`nextOutgoing`). A transition leaves the queue when the endpoint confirmed it (sent, or
 * carried by a digest), when the endpoint refused it for good, or when the queue overflows: each counted in
 * `cradlewatch_rules_webhook_transitions_total{outcome}` and the last two logged. With an outbox, what is
 * still queued at close or at a kill -9 is sent after the next start.
 */
export class WebhookChannel implements AlertChannel {
  readonly name: string;
  private readonly queue: AlertTransition[] = [];
  /** The transitions of the request in flight: never given up by an overflow while the target may have them. */
  private sending = new Set<AlertTransition>();
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly minSeverity: number;
  private readonly limiter: SlidingWindow | undefined;
  private readonly backoff: Backoff;

  constructor(
    private readonly config: WebhookConfig,
    private readonly text: AlertText,
    private readonly log: Logger,
    private readonly outbox?: Outbox,
  ) {
    this.name = `webhook:${config.name}`;
    this.minSeverity = SEVERITIES.indexOf(config.minSeverity);
    const limit = rateLimitOf(config);
    // The last process wrote each request down as it started (so one in flight at a kill -9 still counts);
    // its answer came back, and the target counted it, no later than the request's timeout after that.
    const before = outbox?.recentSends().map((at) => at + config.timeoutMs);
    this.limiter = limit && new SlidingWindow(limit.messages, limit.windowS * 1000, before);
    this.backoff = new Backoff(config.backoffMs, config.maxBackoffMs);
    const replay = outbox?.pending() ?? [];
    if (replay.length > 0) {
      this.log.info({ webhook: config.name, transitions: replay.length }, 'webhook outbox replayed');
      this.queue.push(...replay);
      this.kick();
    }
    this.gauge();
  }

  private wants(transition: AlertTransition): boolean {
    const { alert } = transition;
    if (this.config.centers && !this.config.centers.includes(alert.center)) return false;
    if (SEVERITIES.indexOf(alert.severity) < this.minSeverity) return false;
    return this.config.audience === 'caregivers' || transition.audience === 'supervisors';
  }

  deliver(transition: AlertTransition): void {
    if (this.closed || !this.wants(transition)) return;
    if (this.outbox && !this.outbox.take(transition)) return;
    this.queue.push(transition);
    if (this.queue.length > this.config.queueSize) this.overflow();
    this.gauge();
    this.kick();
  }

  /** Gives up the oldest reminder (a later state of its alert or a later reminder says as much), else the oldest. */
  private overflow(): void {
    const idle = (t: AlertTransition) => !this.sending.has(t);
    const reminder = this.queue.findIndex((t) => idle(t) && t.kind === 'renotified');
    const index = reminder >= 0 ? reminder : this.queue.findIndex(idle);
    if (index < 0) return;
    const [lost] = this.queue.splice(index, 1);
    this.settle([lost!], 'dropped');
    this.log.warn(
      {
        webhook: this.config.name,
        queueSize: this.config.queueSize,
        alert: lost!.alert.id,
        kind: lost!.kind,
      },
      'webhook queue full: oldest reminder dropped',
    );
  }

  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0 && !this.abort.signal.aborted) this.kick();
    });
  }

  private gauge(): void {
    webhookMetrics.queued.set({ webhook: this.config.name }, this.queue.length);
  }

  private settle(transitions: AlertTransition[], outcome: 'sent' | 'digested' | 'failed' | 'dropped'): void {
    webhookMetrics.transitions.inc({ webhook: this.config.name, outcome }, transitions.length);
    const generic =
      outcome === 'sent' || outcome === 'digested' ? channelMetrics.delivered : channelMetrics.failed;
    generic.inc({ channel: this.name }, transitions.length);
    this.outbox?.settle(transitions.map((t) => t.seq));
  }

  private async drain(): Promise<void> {
    let refusals = 0;
    while (this.queue.length > 0 && !this.abort.signal.aborted) {
      const budget = this.limiter?.available() ?? this.queue.length;
      if (budget === 0) {
        webhookMetrics.throttled.inc({ webhook: this.config.name });
        await sleep(this.limiter!.nextAt() - Date.now(), this.abort.signal);
        continue;
      }
      const outgoing = nextOutgoing(this.queue, budget);
      const { body, transitions } = this.render(outgoing);
      this.sending = new Set(transitions);
      try {
        await this.post(JSON.stringify(body));
        refusals = 0;
        this.backoff.reset();
        this.remove(transitions);
        webhookMetrics.messages.inc({ webhook: this.config.name, type: outgoing.type });
        this.settle(transitions, outgoing.type === 'single' ? 'sent' : 'digested');
      } catch (error) {
        if (this.abort.signal.aborted) return;
        // Unreachable, slow or busy targets hold the queue (digests keep it short) until they answer.
        refusals = error instanceof RefusedError ? refusals + 1 : 0;
        if (error instanceof PermanentError || refusals >= this.config.maxAttempts) {
          refusals = 0;
          this.remove(transitions);
          this.settle(transitions, 'failed');
          this.log.error(
            {
              err: error,
              webhook: this.config.name,
              alerts: [...new Set(transitions.map((t) => t.alert.id))],
            },
            'webhook refused the request for good: transitions not delivered',
          );
          continue;
        }
        if (error instanceof BusyError) webhookMetrics.rateLimited.inc({ webhook: this.config.name });
        channelMetrics.retried.inc({ channel: this.name });
        this.log.warn({ err: error, webhook: this.config.name }, 'webhook request failed: will retry');
        await sleep(this.backoff.next(), this.abort.signal);
      } finally {
        this.sending = new Set();
        this.gauge();
      }
    }
  }

  private render(outgoing: Outgoing): { body: unknown; transitions: AlertTransition[] } {
    if (outgoing.type === 'digest') return digestBody(this.config, outgoing.transitions, this.text);
    const [transition] = outgoing.transitions;
    return { body: webhookBody(this.config, transition, this.text), transitions: [transition] };
  }

  private remove(transitions: AlertTransition[]): void {
    const gone = new Set(transitions);
    const kept = this.queue.filter((t) => !gone.has(t));
    this.queue.splice(0, this.queue.length, ...kept);
  }

  /**
   * One request; written to the outbox before it goes (a kill -9 while it is in flight must not hand the
   * next process a fresh budget: the target has counted it) and recorded against this process's budget when
   * it ended, however it ended.
   */
  private async post(body: string): Promise<void> {
    this.outbox?.recordSend(Date.now());
    try {
      await this.attempt(body);
    } finally {
      this.limiter?.record(Date.now());
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
    if (response.status === 429) throw new BusyError(`HTTP 429: ${text.slice(0, 200)}`);
    if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
    if (!response.ok) throw new PermanentError(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    if (this.config.format !== 'json') {
      // Both robots answer 200 with {errcode, errmsg}; a non-zero errcode (rate limit, bad key) is a failure.
      let errcode: unknown;
      try {
        errcode = (JSON.parse(text) as { errcode?: unknown }).errcode;
      } catch {
        throw new Error(`robot answered with non-JSON: ${text.slice(0, 200)}`);
      }
      if (typeof errcode === 'number' && BUSY_ERRCODES.has(errcode))
        throw new BusyError(`robot errcode ${errcode}: ${text.slice(0, 200)}`);
      if (errcode !== 0) throw new RefusedError(`robot errcode ${String(errcode)}: ${text.slice(0, 200)}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const draining = this.draining;
    if (draining) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        draining,
        new Promise((resolve) => (timer = setTimeout(resolve, this.config.closeTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.abort.abort();
    await this.draining;
    if (this.queue.length > 0) {
      if (this.outbox) {
        this.log.warn(
          { webhook: this.config.name, left: this.queue.length, outbox: this.outbox.path },
          'webhook closed with transitions in its outbox: sent after the next start',
        );
      } else {
        this.log.warn(
          { webhook: this.config.name, left: this.queue.length },
          'webhook closed with undelivered transitions',
        );
        this.settle(this.queue.splice(0), 'dropped');
      }
    }
    this.outbox?.close();
  }
}

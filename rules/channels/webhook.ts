import type { AlertChannel, AlertTransition } from '../../protocol/alerts.ts';
import { SEVERITIES } from '../../protocol/payloads.ts';
import { Backoff, sleep } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import { nextOutgoing, type Outgoing } from './digest.ts';
import { channelMetrics, webhookMetrics } from './metrics.ts';
import type { Outbox } from './outbox.ts';
import { SlidingWindow } from './rate.ts';
import { digestBody, webhookBody } from './webhook-body.ts';
import { type AlertText, rateLimitOf, type WebhookConfig } from './webhook-config.ts';
import { BusyError, PermanentError, postWebhook, RefusedError } from './webhook-post.ts';

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
      await postWebhook(this.config, body, this.abort.signal);
    } finally {
      this.limiter?.record(Date.now());
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

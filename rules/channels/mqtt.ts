import type { MqttClient } from 'mqtt';
import type { AlertChannel, AlertTransition } from '../../protocol/alerts.ts';
import { topics } from '../../protocol/topics.ts';
import type { Logger } from '../../lib/logger.ts';
import { channelMetrics } from './metrics.ts';
import type { Outbox } from './outbox.ts';

/**
 * Retained `cw/v1/{center}/alerts/{id}` while an alert is open, so a client that connects later sees every
 * open alert at once; an empty retained message on resolve clears it from the broker. Every transition
 * also goes, not retained, to `…/{id}/transition`, which the alert front ends stream (frontend/). The client belongs to
 * the rules service: this channel never ends it, it only waits for its own publishes to be acknowledged.
 * With an outbox, a transition is settled when the broker acknowledged its publish; one not yet acknowledged
 * when the process died is published again after the next start (retained, so a repeat only restates it).
 */
export class MqttAlertChannel implements AlertChannel {
  readonly name = 'mqtt';
  private pending = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly client: MqttClient,
    private readonly log: Logger,
    private readonly closeTimeoutMs = 5_000,
    private readonly outbox?: Outbox,
  ) {
    for (const transition of outbox?.pending() ?? []) this.publish(transition);
  }

  deliver(transition: AlertTransition): void {
    if (this.closed) return;
    if (this.outbox && !this.outbox.take(transition)) return;
    this.publish(transition);
  }

  private publish(transition: AlertTransition): void {
    const { alert } = transition;
    let topic: string;
    try {
      topic = topics.alert(alert.center, alert.id);
    } catch (error) {
      this.log.error({ err: error, alert: alert.id }, 'alert has an id that cannot be a topic');
      channelMetrics.failed.inc({ channel: this.name });
      this.outbox?.settle([transition.seq]);
      return;
    }
    this.send(topic, transition.kind === 'resolved' ? '' : JSON.stringify(alert), true);
    // The transition itself, in order after the state, for the alert front ends' SSE streams. The outbox
    // settles on it: once it is acknowledged, the retained state before it was too (QoS 1, one session, in order).
    this.send(
      topics.alertTransition(alert.center, alert.id),
      JSON.stringify(transition),
      false,
      transition.seq,
    );
  }

  /** `settles`: the transition this publish completes, counted and settled in the outbox once acknowledged. */
  private send(topic: string, payload: string, retain: boolean, settles?: number): void {
    // mqtt.js queues while disconnected and sends in order on reconnect, so nothing here waits for the broker.
    const sent = new Promise<void>((resolve) => {
      this.client.publish(topic, payload, { qos: 1, retain }, (error) => {
        if (error) {
          channelMetrics.failed.inc({ channel: this.name });
          this.log.warn({ err: error, topic }, 'alert publish failed');
        } else if (settles !== undefined) {
          channelMetrics.delivered.inc({ channel: this.name });
          this.outbox?.settle([settles]);
        }
        resolve();
      });
    });
    this.pending.add(sent);
    void sent.then(() => this.pending.delete(sent));
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.outbox?.close();
  }

  private async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
    });
    const result = await Promise.race([Promise.all(this.pending).then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn(
        { pending: this.pending.size },
        'closing with alert publishes not yet acknowledged by the broker',
      );
    }
  }
}

import { Point, type WriteApi } from '@influxdata/influxdb-client';
import type { AlertChannel, AlertTransition } from '../../protocol/alerts.ts';
import type { Locale } from '../../protocol/payloads.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { createWriteApi } from '../../lib/influx/writer.ts';
import type { Logger } from '../../lib/logger.ts';
import { channelMetrics } from './metrics.ts';

/**
 * Every transition as a point of the `alert` measurement (DESIGN.md data model), for Grafana annotations
 * and the audit trail. The message is the alert's own name-free text: no infant name reaches InfluxDB.
 */
export function alertPoint(transition: AlertTransition, locale: Locale): Point {
  const { alert } = transition;
  const point = new Point('alert')
    .tag('center', alert.center)
    .tag('rule', alert.rule)
    .tag('severity', alert.severity)
    .stringField('alert_id', alert.id)
    .stringField('state', alert.state)
    .stringField('transition', transition.kind)
    .stringField('subject', `${alert.subject.kind}:${alert.subject.id}`)
    .stringField('message', alert.message[locale] ?? Object.values(alert.message)[0] ?? '')
    .timestamp(transition.at);
  if (alert.room) point.tag('room', alert.room);
  if (alert.value !== undefined) point.floatField('value', alert.value);
  if (alert.acknowledgedBy) point.stringField('by', alert.acknowledgedBy);
  // Time to acknowledge, for the supervisors' median/p90 panel (InfluxQL cannot subtract two points).
  if (transition.kind === 'acknowledged' && alert.acknowledgedAt !== undefined) {
    point.intField('ack_ms', alert.acknowledgedAt - alert.raisedAt);
  }
  return point;
}

export class InfluxHistoryChannel implements AlertChannel {
  readonly name = 'influx';
  private readonly writeApi: WriteApi;
  private closing: Promise<void> | undefined;

  constructor(
    conn: InfluxConnection,
    private readonly locale: Locale,
    private readonly log: Logger,
    flushIntervalMs = 1_000,
    private readonly closeTimeoutMs = 5_000,
  ) {
    // The WriteApi batches, retries with backoff and keeps a bounded buffer: deliver only hands it a point.
    this.writeApi = createWriteApi(conn, {
      flushInterval: flushIntervalMs,
      batchSize: 500,
      maxRetries: 5,
      maxBufferLines: 50_000,
      writeFailed: (error, lines) => {
        channelMetrics.failed.inc({ channel: this.name }, lines.length);
        this.log.warn({ err: error, lines: lines.length }, 'alert history write failed');
      },
      writeSuccess: (lines) => {
        channelMetrics.delivered.inc({ channel: this.name }, lines.length);
      },
    });
  }

  deliver(transition: AlertTransition): void {
    if (this.closing) return;
    try {
      this.writeApi.writePoint(alertPoint(transition, this.locale));
    } catch (error) {
      this.log.error({ err: error, alert: transition.alert.id }, 'alert history point refused');
    }
  }

  close(): Promise<void> {
    // With InfluxDB down the WriteApi would retry for minutes; shutdown waits a bounded time instead.
    this.closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn('alert history not flushed within the close timeout');
        resolve();
      }, this.closeTimeoutMs);
      this.writeApi.close().then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          this.log.warn({ err: error }, 'alert history not fully flushed at close');
          resolve();
        },
      );
    });
    return this.closing;
  }
}

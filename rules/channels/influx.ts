import { Point, type WriteApi } from '@influxdata/influxdb-client';
import type { AlertChannel, AlertTransition } from '../../protocol/alerts.ts';
import type { Locale } from '../../protocol/payloads.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { createWriteApi } from '../../lib/influx/writer.ts';
import type { Logger } from '../../lib/logger.ts';
import { channelMetrics } from './metrics.ts';
import type { Outbox } from './outbox.ts';

/** The WriteApi's retries; a batch still failing after them is given up by the library. */
const MAX_RETRIES = 5;

/**
 * Every transition as a point of the `alert` measurement (docs/design.md data model), for Grafana annotations
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

/**
 * With an outbox, a transition is settled when InfluxDB accepted the batch holding its line (or the
 * WriteApi gave that batch up, counted); one still unwritten at a kill -9 is written after the next start.
 * Writing a point twice only rewrites it: same series, same timestamp.
 */
export class InfluxHistoryChannel implements AlertChannel {
  readonly name = 'influx';
  private readonly writeApi: WriteApi;
  private closing: Promise<void> | undefined;
  /** Line protocol → the seqs it carries, until InfluxDB has it. */
  private readonly unconfirmed = new Map<string, number[]>();

  constructor(
    conn: InfluxConnection,
    private readonly locale: Locale,
    private readonly log: Logger,
    flushIntervalMs = 1_000,
    private readonly closeTimeoutMs = 5_000,
    private readonly outbox?: Outbox,
  ) {
    // The WriteApi batches, retries with backoff and keeps a bounded buffer: deliver only hands it a point.
    this.writeApi = createWriteApi(conn, {
      flushInterval: flushIntervalMs,
      batchSize: 500,
      maxRetries: MAX_RETRIES,
      maxBufferLines: 50_000,
      writeFailed: (error, lines, attempt) => {
        channelMetrics.failed.inc({ channel: this.name }, lines.length);
        this.log.warn({ err: error, lines: lines.length, attempt }, 'alert history write failed');
        // The WriteApi gives a batch up after its retries, on a 4xx (not 429) and past its retry time.
        const status = (error as { statusCode?: number }).statusCode;
        const final =
          attempt > MAX_RETRIES ||
          (status !== undefined && status < 429) ||
          error.message === 'Max retry time exceeded.';
        if (final) this.confirm(lines);
      },
      writeRetrySkipped: (entry) => this.confirm(entry.lines),
      writeSuccess: (lines) => {
        channelMetrics.delivered.inc({ channel: this.name }, lines.length);
        this.confirm(lines);
      },
    });
    for (const transition of outbox?.pending() ?? []) this.write(transition);
  }

  deliver(transition: AlertTransition): void {
    if (this.closing) return;
    if (this.outbox && !this.outbox.take(transition)) return;
    this.write(transition);
  }

  private write(transition: AlertTransition): void {
    try {
      const line = alertPoint(transition, this.locale).toLineProtocol(this.writeApi);
      if (!line) throw new Error('the point has no fields');
      this.unconfirmed.set(line, [...(this.unconfirmed.get(line) ?? []), transition.seq]);
      this.writeApi.writeRecord(line);
    } catch (error) {
      this.log.error({ err: error, alert: transition.alert.id }, 'alert history point refused');
      this.outbox?.settle([transition.seq]);
    }
  }

  private confirm(lines: string[]): void {
    const seqs = lines.flatMap((line) => this.unconfirmed.get(line) ?? []);
    for (const line of lines) this.unconfirmed.delete(line);
    this.outbox?.settle(seqs);
  }

  close(): Promise<void> {
    // With InfluxDB down the WriteApi would retry for minutes; shutdown waits a bounded time instead.
    this.closing ??= this.flush().finally(() => this.outbox?.close());
    return this.closing;
  }

  private flush(): Promise<void> {
    return new Promise<void>((resolve) => {
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
  }
}

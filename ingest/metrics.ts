import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricPrefix } from '../lib/ops/index.ts';
import { REASONS, type Reason } from '../protocol/reasons.ts';

const M = metricPrefix('ingest');

export interface IngestStats {
  /** MQTT messages taken in. */
  received: number;
  /** Connections made to the broker (CONNACKs). */
  connects: number;
  /** Points InfluxDB accepted (live and drained from the spool). */
  written: number;
  /** Refused messages and batch items, by reason. */
  invalid: Partial<Record<Reason, number>>;
  invalidTotal: number;
  /** Points appended to the spool since start. */
  spooled: number;
  spoolBytes: number;
  influxUp: boolean;
  pendingAcks: number;
  queuedBatches: number;
  /** Device time to write of the last written batch's newest point. */
  lagMs: number;
}

/** Counts kept twice on purpose: plain numbers for stats() and pipeline points, prom-client for /metrics. */
export class IngestMetrics {
  readonly registry = new Registry();
  readonly stats: IngestStats = {
    received: 0,
    connects: 0,
    written: 0,
    invalid: {},
    invalidTotal: 0,
    spooled: 0,
    spoolBytes: 0,
    influxUp: true,
    pendingAcks: 0,
    queuedBatches: 0,
    lagMs: 0,
  };
  readonly #received: Counter;
  readonly #connects: Counter;
  readonly #written: Counter;
  readonly #invalid: Counter<'reason'>;
  readonly #spooled: Counter;
  readonly #writeSeconds: Histogram;
  readonly #lagSeconds: Histogram;

  constructor(
    private readonly sample: () => Pick<
      IngestStats,
      'spoolBytes' | 'influxUp' | 'pendingAcks' | 'queuedBatches'
    >,
  ) {
    const registers = [this.registry];
    this.#received = new Counter({
      name: `${M}received_total`,
      help: 'MQTT messages received',
      registers,
    });
    this.#connects = new Counter({
      name: 'cradlewatch_ingest_mqtt_connects_total',
      help: 'connections made to the broker; a steady climb is a reconnect loop',
      registers,
    });
    this.#written = new Counter({
      name: `${M}written_total`,
      help: 'points written to InfluxDB',
      registers,
    });
    this.#invalid = new Counter({
      name: `${M}invalid_total`,
      help: 'messages and batch items dead-lettered, by reason',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of REASONS) this.#invalid.inc({ reason }, 0);
    this.#spooled = new Counter({
      name: `${M}spooled_total`,
      help: 'points appended to the disk spool',
      registers,
    });
    this.#writeSeconds = new Histogram({
      name: `${M}write_seconds`,
      help: 'InfluxDB write latency per batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#lagSeconds = new Histogram({
      name: `${M}lag_seconds`,
      help: 'device time to InfluxDB write, per point',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    });
    const stats = this.stats;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge(`${M}spool_bytes`, 'bytes in the disk spool', () => this.sample().spoolBytes);
    gauge(`${M}influx_up`, '1 while InfluxDB takes writes', () => (this.sample().influxUp ? 1 : 0));
    gauge(
      `${M}pending_acks`,
      'QoS 1 messages awaiting a durable write before PUBACK',
      () => this.sample().pendingAcks,
    );
    gauge(`${M}queued_batches`, 'sealed batches waiting to be written', () => this.sample().queuedBatches);
    gauge(
      `${M}last_write_lag_seconds`,
      'device time to write of the newest point last written',
      () => stats.lagMs / 1000,
    );
  }

  received(): void {
    this.stats.received++;
    this.#received.inc();
  }

  connected(): void {
    this.stats.connects++;
    this.#connects.inc();
  }

  invalid(reason: Reason): void {
    this.stats.invalid[reason] = (this.stats.invalid[reason] ?? 0) + 1;
    this.stats.invalidTotal++;
    this.#invalid.inc({ reason });
  }

  written(points: number, seconds: number, times: readonly number[], now = Date.now()): void {
    this.stats.written += points;
    this.#written.inc(points);
    this.#writeSeconds.observe(seconds);
    let newest = 0;
    for (const t of times) {
      if (t > newest) newest = t;
      this.#lagSeconds.observe(Math.max(0, now - t) / 1000);
    }
    if (newest > 0) this.stats.lagMs = Math.max(0, now - newest);
  }

  spooled(points: number): void {
    this.stats.spooled += points;
    this.#spooled.inc(points);
  }

  snapshot(): IngestStats {
    return { ...this.stats, invalid: { ...this.stats.invalid }, ...this.sample() };
  }
}

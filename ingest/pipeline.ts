import { type StoreFault, classifyWriteError } from '../lib/influx/faults.ts';
import type { Logger } from '../lib/logger.ts';
import { Backoff, sleep } from '../lib/backoff.ts';
import { DiskFault } from '../lib/disk.ts';
import { type InfluxSink, StoreUnavailableError } from './influx-sink.ts';
import type { IngestMetrics } from './metrics.ts';
import type { AckToken } from './mqtt-client.ts';
import type { SinkResult } from './sink.ts';
import { type Spool, SpoolFullError } from './spool.ts';

/** Where a line came from, so a line InfluxDB refuses can be dead-lettered with its original message. */
export interface LineOrigin {
  topic: string;
  payload: Uint8Array;
  center?: string | undefined;
  device?: string | undefined;
}

interface Batch {
  lines: string[];
  times: number[];
  origins: (LineOrigin | undefined)[];
  acks: AckToken[];
}

export interface PipelineOptions {
  batchSize: number;
  intervalMs: number;
  idleMs: number;
  maxUnacked: number;
  maxQueued: number;
  retryMinMs: number;
  retryMaxMs: number;
  influx: InfluxSink;
  /** Whether InfluxDB would take a write now (an empty write: a /ping says nothing of the database). */
  probeInflux(): Promise<StoreFault | undefined>;
  /** Makes the missing database or bucket, when ingest may; throws a StoreFault saying how otherwise. */
  createStore?: () => Promise<string>;
  spool: Spool;
  metrics: IngestMetrics;
  /** Makes the dead letters of a batch durable before its acks go out; throws a DiskFault while it cannot. */
  syncDeadLetters(): void;
  /** A line InfluxDB refused for good; origin is absent for lines that come back from the spool. */
  rejected(line: string, detail: string, origin: LineOrigin | undefined): void;
  log: Logger;
}

const emptyBatch = (): Batch => ({ lines: [], times: [], origins: [], acks: [] });

/**
 * Batches points, writes each sealed batch to InfluxDB, or to the spool while InfluxDB is away, and only
 * then releases the batch's PUBACKs. Batches are persisted one at a time in arrival order; a separate loop
 * drains the spool oldest first once InfluxDB answers again, while new batches keep going straight to it.
 * When the spool has no room the batch waits in memory; once maxQueued batches wait, `blocked` turns true
 * and the MQTT side stops reading: the broker and the devices hold the rest.
 *
 * Batches adapt to the write latency: while one sealed batch already waits for the writer, the timers leave
 * the open batch growing (up to batchSize), and the writer seals it the moment it is free. Under load a slow
 * InfluxDB then gets fewer, larger writes instead of a queue of small ones, each costing it a WAL fsync.
 */
export class Pipeline {
  #current = emptyBatch();
  readonly #queue: Batch[] = [];
  #timer: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #influxUp = true;
  #storeFault: StoreFault | undefined;
  #spoolFault: DiskFault | undefined;
  /** When the spool last took a batch (performance.now()). */
  #spoolTookAt = 0;
  #deadLetterFault: DiskFault | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #unblocked: (() => void)[] = [];
  #wakeDrain: (() => void) | undefined;
  #draining: Promise<void> = Promise.resolve();

  constructor(private readonly o: PipelineOptions) {}

  /** Starts the loop that drains the spool whenever InfluxDB answers; call after drainOnce at start-up. */
  start(): void {
    this.#draining = this.#drainLoop();
  }

  get influxUp(): boolean {
    return this.#influxUp;
  }

  /** Why InfluxDB takes no writes, while it takes none. */
  get storeFault(): StoreFault | undefined {
    return this.#influxUp ? undefined : this.#storeFault;
  }

  /** Why the spool takes no batch, while a batch waits for it. */
  get spoolFault(): DiskFault | undefined {
    return this.#spoolFault;
  }

  /** Why the dead letters of a waiting batch are not on disk yet. */
  get deadLetterFault(): DiskFault | undefined {
    return this.#deadLetterFault;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get blocked(): boolean {
    return this.#queue.length >= this.o.maxQueued;
  }

  /** Resolves when the pipeline takes input again. */
  whenUnblocked(): Promise<void> {
    if (!this.blocked) return Promise.resolve();
    return new Promise((resolve) => this.#unblocked.push(resolve));
  }

  add(
    lines: readonly string[],
    times: readonly number[],
    ack: AckToken | undefined,
    origin?: LineOrigin,
  ): void {
    const batch = this.#current;
    for (let i = 0; i < lines.length; i++) {
      batch.lines.push(lines[i]!);
      batch.times.push(times[i]!);
      batch.origins.push(origin);
    }
    if (ack) batch.acks.push(ack);
    if (batch.lines.length >= this.o.batchSize || batch.acks.length >= this.o.maxUnacked) {
      this.#seal();
      return;
    }
    if (batch.lines.length === 0 && batch.acks.length === 0) return;
    this.#timer ??= setTimeout(this.#sealWhenDue, this.o.intervalMs);
    // A broker stops sending when its in-flight window is full of messages we have not acknowledged yet
    // (mosquitto's default is 20): a short quiet spell seals the batch so the window never waits for intervalMs.
    if (ack) {
      if (this.#idle) this.#idle.refresh();
      else this.#idle = setTimeout(this.#sealWhenDue, this.o.idleMs);
    }
  }

  /** A timer's seal, unless a sealed batch already waits behind the one being written (see the class). */
  readonly #sealWhenDue = () => {
    if (this.#queue.length > 1) {
      clearTimeout(this.#timer);
      clearTimeout(this.#idle);
      this.#timer = undefined;
      this.#idle = undefined;
      return;
    }
    this.#seal();
  };

  #seal(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#idle);
    this.#timer = undefined;
    this.#idle = undefined;
    const batch = this.#current;
    if (batch.lines.length === 0 && batch.acks.length === 0) return;
    this.#current = emptyBatch();
    this.#queue.push(batch);
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue[0]!;
      await this.#persist(batch);
      this.#queue.shift();
      for (const ack of batch.acks) ack.release();
      if (this.#queue.length === 0) this.#seal();
      if (!this.blocked) for (const resolve of this.#unblocked.splice(0)) resolve();
    }
  }

  #handleRejected(
    result: SinkResult,
    lines: readonly string[],
    origins: readonly (LineOrigin | undefined)[],
  ): number {
    for (const { index, detail } of result.rejected) this.o.rejected(lines[index]!, detail, origins[index]);
    return lines.length - result.rejected.length;
  }

  async #persist(batch: Batch): Promise<void> {
    if (batch.lines.length > 0) await this.#store(batch);
    await this.#syncDeadLetters();
  }

  /** InfluxDB, else the spool; while neither takes the batch it waits here, unacknowledged. */
  async #store(batch: Batch): Promise<void> {
    const backoff = new Backoff(this.o.retryMinMs, this.o.retryMaxMs);
    for (;;) {
      if (this.#influxUp) {
        const started = performance.now();
        try {
          const result = await this.o.influx.write(batch.lines);
          const written = this.#handleRejected(result, batch.lines, batch.origins);
          this.o.metrics.written(written, (performance.now() - started) / 1000, batch.times);
          return;
        } catch (error) {
          this.#setInfluxUp(false, error);
        }
      }
      const attempted = performance.now();
      try {
        await this.o.spool.write(batch.lines);
        this.#spoolTookAt = performance.now();
        this.#setSpoolFault(undefined);
        this.o.metrics.spooled(batch.lines.length);
        this.#wakeDrain?.();
        return;
      } catch (error) {
        // A write begun before the spool took another batch says nothing of the disk now.
        if (attempted > this.#spoolTookAt)
          this.#setSpoolFault(
            error instanceof SpoolFullError
              ? new DiskFault(this.o.spool.dir, 'budget', error.message)
              : (error as DiskFault),
          );
        await sleep(backoff.next(), this.#abort.signal);
        if (this.#closed)
          throw new Error('closed while InfluxDB is down and the spool cannot take the batch');
        if (!(await this.o.probeInflux())) this.#setInfluxUp(true);
      }
    }
  }

  async #syncDeadLetters(): Promise<void> {
    const backoff = new Backoff(this.o.retryMinMs, this.o.retryMaxMs);
    for (;;) {
      try {
        this.o.syncDeadLetters();
        this.#setDeadLetterFault(undefined);
        return;
      } catch (error) {
        this.#setDeadLetterFault(error as DiskFault);
        await sleep(backoff.next(), this.#abort.signal);
        if (this.#closed) throw new Error('closed while the dead-letter store cannot take records');
      }
    }
  }

  /** One warn line when a disk starts refusing (or its reason changes), one info line when it is back. */
  #setSpoolFault(fault: DiskFault | undefined): void {
    if (fault?.reason === this.#spoolFault?.reason) return;
    if (fault)
      this.o.log.warn(
        { path: fault.path, code: fault.code },
        `spool: ${fault.reason}; holding acknowledgements`,
      );
    else this.o.log.info('spool takes batches again');
    this.#spoolFault = fault;
  }

  #setDeadLetterFault(fault: DiskFault | undefined): void {
    if (fault?.reason === this.#deadLetterFault?.reason) return;
    if (fault)
      this.o.log.warn(
        { path: fault.path, code: fault.code },
        `dead letters: ${fault.reason}; holding acknowledgements`,
      );
    else this.o.log.info('dead-letter store takes records again');
    this.#deadLetterFault = fault;
  }

  #setInfluxUp(up: boolean, error?: unknown): void {
    if (!up) {
      const fault =
        error instanceof StoreUnavailableError
          ? error.fault
          : error
            ? classifyWriteError(error, this.o.influx.conn)
            : undefined;
      // One warn line per cause, naming the fix: a missing database must not read like an outage.
      if (fault && fault.reason !== this.#storeFault?.reason) {
        this.o.log.warn(
          { kind: fault.kind, fix: fault.fix },
          `InfluxDB takes no writes: ${fault.reason}; spooling to disk. Fix: ${fault.fix}`,
        );
      }
      if (fault) this.#storeFault = fault;
    }
    if (this.#influxUp === up) return;
    this.#influxUp = up;
    if (up) {
      this.#storeFault = undefined;
      this.o.log.info('InfluxDB takes writes again; draining the spool');
    }
    this.#wakeDrain?.();
  }

  async #drainLoop(): Promise<void> {
    const backoff = new Backoff(this.o.retryMinMs, this.o.retryMaxMs);
    while (!this.#closed) {
      if (this.#influxUp && this.o.spool.isEmpty) {
        await new Promise<void>((resolve) => {
          this.#wakeDrain = resolve;
        });
        this.#wakeDrain = undefined;
        continue;
      }
      try {
        if (this.o.spool.isEmpty) {
          const fault = await this.o.probeInflux();
          if (fault) throw new StoreUnavailableError(fault);
        } else {
          const drained = await this.#drainSpool();
          if (drained > 0) this.o.log.info({ points: drained }, 'spool drained');
        }
        this.#setInfluxUp(true);
        backoff.reset();
      } catch (error) {
        this.#setInfluxUp(false, error);
        if (this.#storeFault?.kind === 'database-missing') await this.#createStore();
        await sleep(backoff.next(), this.#abort.signal);
      }
    }
  }

  /** At start: whether InfluxDB takes writes, making the database when it is missing and ingest may. */
  async checkStore(): Promise<void> {
    const fault = await this.o.probeInflux();
    if (!fault) return;
    if (fault.kind === 'database-missing' && this.o.createStore) {
      await this.#createStore();
      if (!(await this.o.probeInflux())) return;
    }
    this.#setInfluxUp(false, new StoreUnavailableError(fault));
  }

  #createFailure: string | undefined;

  async #createStore(): Promise<void> {
    if (!this.o.createStore) return;
    try {
      this.o.log.info(await this.o.createStore());
      this.#createFailure = undefined;
    } catch (error) {
      const fault = error as StoreFault;
      if (fault.reason !== this.#createFailure)
        this.o.log.warn({ fix: fault.fix }, `${fault.reason}. Fix: ${fault.fix}`);
      this.#createFailure = fault.reason;
    }
  }

  #drainSpool(): Promise<number> {
    return this.o.spool.drain(async (lines) => {
      const started = performance.now();
      const result = await this.o.influx.write(lines);
      const written = this.#handleRejected(result, lines, []);
      this.o.metrics.written(written, (performance.now() - started) / 1000, []);
      this.#setInfluxUp(true);
    }, this.#abort.signal);
  }

  /** Writes the spool out while InfluxDB takes it; false when InfluxDB stays away (the spool keeps it). */
  async drainOnce(): Promise<boolean> {
    try {
      await this.#drainSpool();
      return true;
    } catch (error) {
      this.#setInfluxUp(false, error);
      return false;
    }
  }

  /** Seals the open batch and waits until everything received so far is durable. */
  async flush(): Promise<void> {
    this.#seal();
    while (this.#running) await this.#running;
  }

  /** Flushes what it can; a batch stuck behind a full spool stays unacknowledged for the broker to redeliver. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#wakeDrain?.();
    try {
      await this.flush();
    } finally {
      await this.#draining;
    }
  }
}

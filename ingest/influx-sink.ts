import { HttpError, type WriteApi, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from '../lib/logger.ts';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { type StoreFault, classifyWriteError } from '../lib/influx/faults.ts';
import { createWriteApi } from '../lib/influx/writer.ts';
import { Backoff, sleep } from '../lib/backoff.ts';
import { type Sink, type SinkResult, SinkUnavailableError } from './sink.ts';

export interface InfluxSinkOptions {
  /** Lines per HTTP request; a longer batch goes in several. */
  batchSize: number;
  maxRetries: number;
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** Takes the client library's own messages, which it would print to the console, at debug level. */
  log: Logger;
}

/** InfluxDB cannot take writes now (see StoreFault): the lines are fine and stay with the caller. */
export class StoreUnavailableError extends SinkUnavailableError {
  constructor(readonly fault: StoreFault) {
    super(`InfluxDB write failed: ${fault.reason}`, { cause: fault });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Writes batches through the client library's WriteApi. The WriteApi's own retry buffer is switched off
 * (maxRetries 0) because it would keep failed lines past the promise we answer with, and ingest must know
 * exactly when a batch is durable to release its PUBACKs; this sink retries with jittered backoff itself.
 * Only a refusal of the lines themselves (400 bad line protocol or partial write, 422, 413) counts against
 * them, and the lines at fault are isolated by bisection (rewriting the good half is harmless: a point's
 * identity makes it idempotent), so one bad line never costs the batch. A missing database, refused
 * credentials, a 5xx or a timeout is the store's fault (classifyWriteError): the whole batch is kept.
 */
export class InfluxSink implements Sink {
  readonly #api: WriteApi;
  #closed = false;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly conn: InfluxConnection,
    private readonly options: InfluxSinkOptions,
  ) {
    // The library's logger is process-wide; each failed request would be printed, and this sink reports
    // outcomes through its promise anyway.
    setLogger({
      error: (message, error) => options.log.debug({ err: error }, message),
      warn: (message, error) => options.log.debug({ err: error }, message),
    });
    this.#api = createWriteApi(conn, {
      maxRetries: 0,
      // Above any request we make, so the WriteApi never flushes on its own behind our promise.
      batchSize: options.batchSize + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxBufferLines: Number.MAX_SAFE_INTEGER,
    });
  }

  write(lines: readonly string[]): Promise<SinkResult> {
    if (this.#closed) return Promise.reject(new Error('InfluxSink is closed'));
    // One request at a time on the shared WriteApi buffer: concurrent callers would flush each other's lines.
    const run = this.#chain.then(() => this.#writeWithRetries(lines));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #writeWithRetries(lines: readonly string[]): Promise<SinkResult> {
    const backoff = new Backoff(this.options.minRetryDelayMs, this.options.maxRetryDelayMs);
    for (;;) {
      try {
        const rejected: SinkResult['rejected'] = [];
        await this.#writeIsolating(lines, 0, rejected);
        return { rejected };
      } catch (error) {
        const fault = classifyWriteError(error, this.conn)!;
        // A missing database or refused credentials will not mend in a second: no point waiting here.
        const lasting = fault.kind === 'database-missing' || fault.kind === 'auth';
        if (this.#closed || lasting || backoff.attempt >= this.options.maxRetries)
          throw new StoreUnavailableError(fault);
        await sleep(backoff.next());
      }
    }
  }

  async #writeIsolating(
    lines: readonly string[],
    offset: number,
    rejected: SinkResult['rejected'],
  ): Promise<void> {
    if (lines.length === 0) return;
    try {
      await this.#send(lines);
    } catch (error) {
      if (!(error instanceof HttpError) || classifyWriteError(error, this.conn)) throw error;
      if (lines.length === 1) {
        rejected.push({
          index: offset,
          detail: `InfluxDB ${error.statusCode}: ${(error.body ?? error.message).slice(0, 300)}`,
        });
        return;
      }
      const half = Math.ceil(lines.length / 2);
      await this.#writeIsolating(lines.slice(0, half), offset, rejected);
      await this.#writeIsolating(lines.slice(half), offset + half, rejected);
    }
  }

  async #send(lines: readonly string[]): Promise<void> {
    for (let at = 0; at < lines.length; at += this.options.batchSize) {
      this.#api.writeRecords(lines.slice(at, at + this.options.batchSize));
      await this.#api.flush();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#chain;
    this.#api.dispose();
  }
}

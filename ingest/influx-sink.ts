import { HttpError, type WriteApi, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from '../lib/logger.ts';
import type { InfluxConnection } from '../lib/influx/connection.ts';
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

/** 4xx other than 429 means these lines will never be accepted; anything else may pass on a later try. */
function isRejection(error: unknown): error is HttpError {
  return (
    error instanceof HttpError &&
    error.statusCode >= 400 &&
    error.statusCode < 500 &&
    error.statusCode !== 429
  );
}

/**
 * Writes batches through the client library's WriteApi. The WriteApi's own retry buffer is switched off
 * (maxRetries 0) because it would keep failed lines past the promise we answer with, and ingest must know
 * exactly when a batch is durable to release its PUBACKs; this sink retries with jittered backoff itself.
 * A 4xx isolates the bad lines by bisection (rewriting the good half is harmless: a point's identity
 * makes it idempotent) so one bad line never costs the batch.
 */
export class InfluxSink implements Sink {
  readonly #api: WriteApi;
  #closed = false;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    conn: InfluxConnection,
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
        if (this.#closed || backoff.attempt >= this.options.maxRetries) {
          throw new SinkUnavailableError(`InfluxDB write failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
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
      if (!isRejection(error)) throw error;
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

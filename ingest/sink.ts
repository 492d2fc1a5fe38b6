/**
 * Where a batch of line-protocol points goes: InfluxDB, or the disk spool while InfluxDB is away. Small on
 * purpose (Telegraf's output plugins): every implementation passes the one contract suite in
 * ingest/sink-contract.ts.
 */
export interface Sink {
  /**
   * Resolves once every line is durable (written, or appended and fsync'd) or refused for good; refused lines
   * are listed by index with why. Rejects when the sink cannot take the batch now (unreachable, full): the
   * caller still owns the lines.
   */
  write(lines: readonly string[]): Promise<SinkResult>;
  close(): Promise<void>;
}

export interface SinkResult {
  rejected: { index: number; detail: string }[];
}

/** The sink could not take the batch now; nothing of it is durable and the caller keeps it. */
export class SinkUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SinkUnavailableError';
  }
}

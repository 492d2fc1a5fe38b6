import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { appendAll, diskFault } from '../lib/disk.ts';
import { type Sink, type SinkResult, SinkUnavailableError } from './sink.ts';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
}

const HEADER = 4;
const SEGMENT = /^(\d{12})\.seg$/;

/** The spool cannot take this batch without passing its byte budget. */
export class SpoolFullError extends SinkUnavailableError {
  constructor(need: number, free: number) {
    super(`spool full: batch needs ${need} bytes, ${free} free`);
    this.name = 'SpoolFullError';
  }
}

function encode(lines: readonly string[]): Buffer {
  const body = Buffer.from(lines.join('\n'), 'utf8');
  const record = Buffer.allocUnsafe(HEADER + body.length);
  record.writeUInt32BE(body.length, 0);
  body.copy(record, HEADER);
  return record;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // A failing disk may report its error again on close; the descriptor is released all the same.
  }
}

/** Records of one segment file; a torn tail (a crash mid-append, never fsync'd, never acknowledged) is dropped. */
function readSegment(file: string): string[][] {
  const data = readFileSync(file);
  const records: string[][] = [];
  let at = 0;
  while (at + HEADER <= data.length) {
    const length = data.readUInt32BE(at);
    if (at + HEADER + length > data.length) break;
    const text = data.toString('utf8', at + HEADER, at + HEADER + length);
    records.push(text.length === 0 ? [] : text.split('\n'));
    at += HEADER + length;
  }
  return records;
}

/**
 * A disk queue of batches for when InfluxDB is away: length-prefixed records in numbered segment files,
 * each append fsync'd before it counts as durable, the whole bounded by maxBytes. Draining takes whole
 * sealed segments oldest first and deletes a segment only after every record in it is written, so a crash
 * mid-drain rewrites a few points (idempotent) and never loses one.
 */
export class Spool implements Sink {
  #bytes = 0;
  #segments: { seq: number; bytes: number }[] = [];
  /** Whether the last segment still takes appends. */
  #appending = false;
  #closed = false;
  readonly #undeleted = new Set<string>();

  private constructor(private readonly options: SpoolOptions) {}

  static open(options: SpoolOptions): Spool {
    mkdirSync(options.dir, { recursive: true });
    const spool = new Spool(options);
    for (const name of readdirSync(options.dir).sort()) {
      const match = SEGMENT.exec(name);
      if (!match) continue;
      const bytes = statSync(join(options.dir, name)).size;
      spool.#segments.push({ seq: Number(match[1]), bytes });
      spool.#bytes += bytes;
    }
    return spool;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get dir(): string {
    return this.options.dir;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  get isEmpty(): boolean {
    return this.#bytes === 0;
  }

  /** Whether a batch of about this many bytes still fits. */
  fits(bytes: number): boolean {
    return this.#bytes + bytes <= this.options.maxBytes;
  }

  #path(seq: number): string {
    return join(this.options.dir, `${String(seq).padStart(12, '0')}.seg`);
  }

  async write(lines: readonly string[]): Promise<SinkResult> {
    if (this.#closed) throw new Error('spool is closed');
    if (lines.length === 0) return { rejected: [] };
    const record = encode(lines);
    if (!this.fits(record.length))
      throw new SpoolFullError(record.length, this.options.maxBytes - this.#bytes);
    const last = this.#appending ? this.#segments.at(-1) : undefined;
    const fresh = !last || last.bytes + record.length > this.options.segmentBytes;
    const active = fresh ? { seq: (this.#segments.at(-1)?.seq ?? 0) + 1, bytes: 0 } : last;
    // Opened per append, not held: an fsync costs far more than an open, and a file system with no file
    // open for writing can be remounted (read-only, or back to read-write) under a running ingest.
    let fd: number | undefined;
    try {
      fd = openSync(this.#path(active.seq), 'a');
      if (fresh) {
        this.#segments.push(active);
        this.#appending = true;
      }
      appendAll(fd, record, active.bytes);
      fsyncSync(fd);
    } catch (error) {
      // Never append after a record the disk may have torn: the next batch starts a new segment, and a
      // reader stops at a torn tail, so what was acknowledged before stays readable.
      this.#appending = false;
      throw diskFault(error, this.options.dir, 'spool append');
    } finally {
      if (fd !== undefined) closeQuietly(fd);
    }
    active.bytes += record.length;
    this.#bytes += record.length;
    return { rejected: [] };
  }

  /**
   * Hands the oldest segment's batches to `write` in order, then deletes it; repeats until the spool is empty
   * or `write` throws (the segment stays for the next drain). Returns the number of lines drained.
   */
  async drain(write: (lines: string[]) => Promise<void>, signal?: AbortSignal): Promise<number> {
    let drained = 0;
    while (!this.isEmpty && !signal?.aborted) {
      const oldest = this.#segments[0]!;
      // The segment being appended to is taken too: the next append starts a new one.
      if (this.#segments.length === 1) this.#appending = false;
      for (const lines of readSegment(this.#path(oldest.seq))) {
        await write(lines);
        drained += lines.length;
      }
      this.#segments.shift();
      this.#bytes -= oldest.bytes;
      this.#remove(this.#path(oldest.seq));
    }
    for (const path of this.#undeleted) this.#remove(path);
    return drained;
  }

  /**
   * A drained segment on a disk that turned read-only cannot be deleted; it is forgotten here (its points
   * are in InfluxDB) and deleted when the disk allows, or drained again after a restart: rewriting a point
   * is harmless.
   */
  #remove(path: string): void {
    try {
      unlinkSync(path);
      this.#undeleted.delete(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') this.#undeleted.delete(path);
      else this.#undeleted.add(path);
    }
  }

  /** Every spooled batch, oldest first, without removing anything. */
  peekAll(): string[][] {
    return this.#segments.flatMap((s) => readSegment(this.#path(s.seq)));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

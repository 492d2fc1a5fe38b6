import { createHash } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DeadLetter } from '../protocol/payloads.ts';
import type { Reason } from '../protocol/reasons.ts';
import { isId } from '../protocol/ids.ts';
import { topics } from '../protocol/topics.ts';
import { type DiskFault, appendAll, diskFault } from '../lib/disk.ts';

export interface DeadLetterOptions {
  dir: string;
  maxFileBytes: number;
  keepFiles: number;
  /** One serialized record at most, in the file and on MQTT: below the broker's packet limit. */
  maxRecordBytes: number;
  /** Original payloads kept beside the records (`payloads/<sha256>`), oldest dropped first past it. */
  maxPayloadBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');
const MAX_TOPIC_CHARS = 256;
const MAX_DETAIL_CHARS = 500;

/** The first `bytes` of a payload as the record shows them, never splitting a UTF-8 character. */
function preview(payload: Uint8Array, text: boolean, bytes: number): string {
  const part = payload.subarray(0, bytes);
  if (!text) return Buffer.from(part).toString('base64');
  return lenient.decode(part).replace(/\uFFFD+$/, '');
}

/**
 * docs/design.md's dead-letter payload, capped: at most `maxBytes` once serialized, whatever the message.
 * Control characters cost six bytes each in JSON and base64 four per three, so a record of the whole
 * message could outgrow the message and the broker's packet limit (and the broker then closes ingest's
 * connection, which redelivers the message: the loop of #15). The record keeps the size, the SHA-256 and
 * as much of the start of the original bytes as fits; the whole of them goes to the payload store.
 */
export function deadLetterRecord(
  input: {
    topic: string;
    reason: Reason;
    detail: string;
    payload: Uint8Array;
    center?: string | undefined;
    device?: string | undefined;
    now?: number;
  },
  maxBytes: number,
): DeadLetter {
  let text = true;
  try {
    utf8.decode(input.payload);
  } catch {
    text = false;
  }
  const size = input.payload.byteLength;
  const base: Omit<DeadLetter, 'payload' | 'truncated'> = {
    v: 1,
    ts: input.now ?? Date.now(),
    topic: input.topic.slice(0, MAX_TOPIC_CHARS),
    reason: input.reason,
    detail: input.detail.slice(0, MAX_DETAIL_CHARS),
    encoding: text ? 'utf8' : 'base64',
    ...(input.center && isId(input.center) ? { center: input.center } : {}),
    ...(input.device && isId(input.device) ? { device: input.device } : {}),
    size,
    sha256: createHash('sha256').update(input.payload).digest('hex'),
  };
  // Halving converges in a few steps; an empty preview always fits (topic and detail are capped).
  for (let bytes = Math.min(size, maxBytes); ; bytes = Math.floor(bytes / 2)) {
    const record: DeadLetter = {
      ...base,
      payload: preview(input.payload, text, bytes),
      ...(bytes < size ? { truncated: true } : {}),
    };
    if (bytes === 0 || Buffer.byteLength(JSON.stringify(record)) <= maxBytes) return record;
  }
}

/** Where a record is published; `unknown` stands in for a centre or device the topic did not name validly. */
export function deadLetterTopic(record: DeadLetter): string {
  return topics.deadletter(record.center ?? 'unknown', record.device ?? 'unknown');
}

interface Pending {
  line: Buffer;
  /** The original bytes, to keep under the record's sha256 unless already kept. */
  original?: { sha256: string; bytes: Uint8Array };
}

/**
 * The local copy of every dead letter: `deadletter.jsonl`, rotated to `deadletter.<n>.jsonl` past
 * maxFileBytes, keeping keepFiles old ones, and the original payloads in `payloads/`, one file per
 * SHA-256 (a message delivered twice is kept once), within maxPayloadBytes. `sync()` makes everything
 * appended durable, and ingest calls it before acknowledging the messages of a batch, so a refused message
 * is never lost either. A disk that refuses (full, read-only, failing) leaves the records queued here and
 * `sync()` throws a DiskFault: the batch waits unacknowledged until the disk takes them.
 */
export class DeadLetterFile {
  #fd: number | null = null;
  #bytes = 0;
  readonly #pending: Pending[] = [];
  #dirty = false;
  /** Payload files kept, oldest first, and their total size. */
  readonly #payloads = new Map<string, number>();
  #payloadBytes = 0;
  #fault: DiskFault | undefined;

  constructor(private readonly options: DeadLetterOptions) {
    try {
      mkdirSync(this.#payloadDir, { recursive: true });
      const kept = readdirSync(this.#payloadDir)
        .filter((name) => /^[0-9a-f]{64}$/.test(name))
        .map((name) => ({ name, stat: statSync(join(this.#payloadDir, name)) }))
        .sort((a, b) => a.stat.mtimeMs - b.stat.mtimeMs);
      for (const { name, stat } of kept) {
        this.#payloads.set(name, stat.size);
        this.#payloadBytes += stat.size;
      }
    } catch (error) {
      // Ingest still starts: messages that need a dead letter wait unacknowledged until the disk is back.
      this.#fault = diskFault(error, this.options.dir, 'dead-letter store open');
    }
  }

  get current(): string {
    return join(this.options.dir, 'deadletter.jsonl');
  }

  get #payloadDir(): string {
    return join(this.options.dir, 'payloads');
  }

  /** Why the store cannot take records now, until a write succeeds again. */
  get fault(): DiskFault | undefined {
    return this.#fault;
  }

  /** Records waiting for the disk. */
  get pending(): number {
    return this.#pending.length;
  }

  get payloadBytes(): number {
    return this.#payloadBytes;
  }

  /** Queues the record (and the original bytes) and writes what the disk takes; never throws. */
  append(record: DeadLetter, original?: Uint8Array): void {
    this.#pending.push({
      line: Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'),
      ...(original && record.sha256 ? { original: { sha256: record.sha256, bytes: original } } : {}),
    });
    try {
      this.#flush();
    } catch (error) {
      this.#fault = diskFault(error, this.options.dir, 'dead-letter append');
    }
  }

  /** Everything appended is on disk when this returns; throws a DiskFault while the disk refuses. */
  sync(): void {
    try {
      this.#flush();
      if (this.#dirty && this.#fd !== null) fdatasyncSync(this.#fd);
      this.#dirty = false;
      this.#fault = undefined;
    } catch (error) {
      this.#fault = diskFault(error, this.options.dir, 'dead-letter write');
      throw this.#fault;
    }
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      if (next.original) this.#keepPayload(next.original.sha256, next.original.bytes);
      if (this.#fd === null) this.#open();
      if (this.#bytes > 0 && this.#bytes + next.line.length > this.options.maxFileBytes) this.#rotate();
      try {
        appendAll(this.#fd!, next.line, this.#bytes);
      } catch (error) {
        // Reopened next time, after a check of its tail (see #open).
        this.#closeFile();
        throw error;
      }
      this.#bytes += next.line.length;
      this.#dirty = true;
      this.#pending.shift();
    }
  }

  /** A tail the disk would not let us cut back is ended with a newline, so it spoils one line only. */
  #open(): void {
    mkdirSync(this.options.dir, { recursive: true });
    const fd = openSync(this.current, 'a+');
    let bytes = statSync(this.current).size;
    if (bytes > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, bytes - 1);
      if (last[0] !== 0x0a) {
        appendAll(fd, Buffer.from('\n'), bytes);
        bytes += 1;
      }
    }
    this.#fd = fd;
    this.#bytes = bytes;
  }

  #keepPayload(sha256: string, bytes: Uint8Array): void {
    if (this.#payloads.has(sha256) || bytes.byteLength > this.options.maxPayloadBytes) return;
    for (const [name, size] of this.#payloads) {
      if (this.#payloadBytes + bytes.byteLength <= this.options.maxPayloadBytes) break;
      unlinkSync(join(this.#payloadDir, name));
      this.#payloads.delete(name);
      this.#payloadBytes -= size;
    }
    mkdirSync(this.#payloadDir, { recursive: true });
    const path = join(this.#payloadDir, sha256);
    const fd = openSync(path, 'w');
    try {
      appendAll(fd, bytes, 0);
      fdatasyncSync(fd);
    } catch (error) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // The next attempt rewrites it whole.
      }
      throw error;
    }
    closeSync(fd);
    this.#payloads.set(sha256, bytes.byteLength);
    this.#payloadBytes += bytes.byteLength;
  }

  #rotate(): void {
    fdatasyncSync(this.#fd!);
    this.#dirty = false;
    this.#closeFile();
    const rotated = readdirSync(this.options.dir)
      .map((name) => /^deadletter\.(\d+)\.jsonl$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
    for (const n of rotated) {
      const from = join(this.options.dir, `deadletter.${n}.jsonl`);
      if (n >= this.options.keepFiles) unlinkSync(from);
      else renameSync(from, join(this.options.dir, `deadletter.${n + 1}.jsonl`));
    }
    renameSync(this.current, join(this.options.dir, 'deadletter.1.jsonl'));
    this.#fd = openSync(this.current, 'a');
    this.#bytes = 0;
  }

  #closeFile(): void {
    if (this.#fd === null) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Closing a file on a failed disk may report the failure again; the descriptor is gone either way.
    }
    this.#fd = null;
  }

  /** Records the disk never took belong to messages never acknowledged: the broker delivers them again. */
  close(): void {
    try {
      this.sync();
    } catch {
      // See above.
    } finally {
      this.#closeFile();
    }
  }
}

import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DeadLetter } from '../protocol/payloads.ts';
import type { Reason } from '../protocol/reasons.ts';
import { isId } from '../protocol/ids.ts';
import { topics } from '../protocol/topics.ts';

export interface DeadLetterOptions {
  dir: string;
  maxFileBytes: number;
  keepFiles: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** DESIGN.md's dead-letter payload: the original bytes as text where they are UTF-8, base64 otherwise. */
export function deadLetterRecord(input: {
  topic: string;
  reason: Reason;
  detail: string;
  payload: Uint8Array;
  center?: string | undefined;
  device?: string | undefined;
  now?: number;
}): DeadLetter {
  let payload: string;
  let encoding: DeadLetter['encoding'] = 'utf8';
  try {
    payload = utf8.decode(input.payload);
  } catch {
    payload = Buffer.from(input.payload).toString('base64');
    encoding = 'base64';
  }
  return {
    v: 1,
    ts: input.now ?? Date.now(),
    topic: input.topic,
    reason: input.reason,
    detail: input.detail,
    payload,
    encoding,
    ...(input.center && isId(input.center) ? { center: input.center } : {}),
    ...(input.device && isId(input.device) ? { device: input.device } : {}),
  };
}

/** Where a record is published; `unknown` stands in for a centre or device the topic did not name validly. */
export function deadLetterTopic(record: DeadLetter): string {
  return topics.deadletter(record.center ?? 'unknown', record.device ?? 'unknown');
}

/**
 * The local copy of every dead letter: `deadletter.jsonl`, rotated to `deadletter.<n>.jsonl` past
 * maxFileBytes, keeping keepFiles old ones. Appends are written at once and fdatasync'd by `sync()`, which
 * ingest calls before acknowledging the messages a batch holds, so a refused message is never lost either.
 */
export class DeadLetterFile {
  #fd: number;
  #bytes: number;
  #dirty = false;

  constructor(private readonly options: DeadLetterOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.#fd = openSync(this.current, 'a');
    this.#bytes = statSync(this.current).size;
  }

  get current(): string {
    return join(this.options.dir, 'deadletter.jsonl');
  }

  append(record: DeadLetter): void {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    if (this.#bytes > 0 && this.#bytes + line.length > this.options.maxFileBytes) this.#rotate();
    writeSync(this.#fd, line);
    this.#bytes += line.length;
    this.#dirty = true;
  }

  sync(): void {
    if (!this.#dirty) return;
    fdatasyncSync(this.#fd);
    this.#dirty = false;
  }

  #rotate(): void {
    fdatasyncSync(this.#fd);
    closeSync(this.#fd);
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

  close(): void {
    this.sync();
    closeSync(this.#fd);
  }
}

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { type Change, type DurableState, applyChanges, emptyState } from '../engine/state.ts';

/** One line of journal.jsonl: a step's state changes with its transitions, or a delivery watermark. */
type Line = { c: Change[]; t: AlertTransition[] } | { d: number };

interface Snapshot {
  v: 1;
  state: DurableState;
  delivered: number;
  recent: AlertTransition[];
}

export interface Restored {
  state: DurableState;
  /** Highest transition seq handed to every channel; later ones are delivered once after a restart. */
  delivered: number;
  /** The most recent transitions, oldest first, for SSE resumption and the undelivered tail. */
  recent: AlertTransition[];
}

export interface JournalOptions {
  /** Compact (snapshot + truncate) once the journal file grows past this and past twice the last snapshot. */
  compactBytes?: number;
  /** Longest a step that raised no transition waits for its fsync. */
  syncIntervalMs?: number;
  /** Transitions kept for resumption. */
  keepTransitions?: number;
  /** Told how long each fsync took (the rules' journal_fsync_seconds). */
  onFsync?: (seconds: number) => void;
}

export class JournalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalError';
  }
}

/**
 * The rules service's durable state on local disk: an append-only JSONL journal over a snapshot replaced
 * atomically (write, fsync, rename, fsync the directory) at compaction. Every step is written before
 * `append` returns, so a kill -9 loses nothing the kernel has. fsync, which guards against power loss, costs
 * a disk flush, so it is a group commit: the caller calls `sync()` before it delivers transitions, once for
 * all the steps since the last; without a caller's sync the journal fsyncs within `syncIntervalMs` (rule
 * timers moving on with every reading, delivery watermarks), so a power cut can at worst restart a hold
 * timer or repeat a notification, never lose a delivered alert. A torn last line
 * (kill -9 mid-write) is dropped: its step was never delivered to anyone. A bad line anywhere else means
 * the file was damaged, and the service refuses to start on it.
 */
export class Journal {
  readonly #dir: string;
  readonly #journalPath: string;
  readonly #snapshotPath: string;
  readonly #compactBytes: number;
  readonly #keep: number;
  readonly #syncIntervalMs: number;
  readonly #onFsync: ((seconds: number) => void) | undefined;
  #fd: number;
  #bytes: number;
  #snapshotBytes = 0;
  #syncTimer: NodeJS.Timeout | undefined;
  #delivered = 0;
  #recent: AlertTransition[] = [];

  private constructor(dir: string, options: JournalOptions) {
    this.#dir = dir;
    this.#journalPath = join(dir, 'journal.jsonl');
    this.#snapshotPath = join(dir, 'snapshot.json');
    this.#compactBytes = options.compactBytes ?? 4 * 1024 * 1024;
    this.#keep = options.keepTransitions ?? 1000;
    this.#syncIntervalMs = options.syncIntervalMs ?? 200;
    this.#onFsync = options.onFsync;
    this.#fd = openSync(this.#journalPath, 'a');
    this.#bytes = statSync(this.#journalPath).size;
  }

  static open(dir: string, options: JournalOptions = {}): { journal: Journal; restored: Restored } {
    mkdirSync(dir, { recursive: true });
    const journal = new Journal(dir, options);
    const restored = journal.#restore();
    return { journal, restored };
  }

  #restore(): Restored {
    let state = emptyState();
    if (existsSync(this.#snapshotPath)) {
      let snapshot: Snapshot;
      try {
        const text = readFileSync(this.#snapshotPath, 'utf8');
        this.#snapshotBytes = text.length;
        snapshot = JSON.parse(text) as Snapshot;
      } catch (error) {
        throw new JournalError(
          `rules snapshot ${this.#snapshotPath} is unreadable: ${(error as Error).message}`,
        );
      }
      if (snapshot.v !== 1)
        throw new JournalError(`rules snapshot ${this.#snapshotPath} has unknown version ${snapshot.v}`);
      state = snapshot.state;
      this.#delivered = snapshot.delivered;
      this.#recent = snapshot.recent;
    }
    const text = readFileSync(this.#journalPath, 'utf8');
    const lines = text.split('\n');
    const last = lines.length - 1;
    lines.forEach((raw, i) => {
      if (raw === '') return;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        if (i === last) return;
        throw new JournalError(`rules journal ${this.#journalPath} line ${i + 1} is damaged`);
      }
      if ('d' in line) this.#delivered = Math.max(this.#delivered, line.d);
      else {
        applyChanges(state, line.c);
        this.#remember(line.t);
      }
    });
    if (text.length > 0 && !text.endsWith('\n')) {
      // Cut the torn tail so the next append starts on a line of its own.
      closeSync(this.#fd);
      const whole = text.slice(0, text.lastIndexOf('\n') + 1);
      this.#rewrite(this.#journalPath, whole);
      this.#fd = openSync(this.#journalPath, 'a');
      this.#bytes = Buffer.byteLength(whole);
    }
    return { state, delivered: this.#delivered, recent: [...this.#recent] };
  }

  #remember(transitions: AlertTransition[]): void {
    if (transitions.length === 0) return;
    this.#recent.push(...transitions);
    if (this.#recent.length > this.#keep * 2) this.#recent = this.#recent.slice(-this.#keep);
  }

  get delivered(): number {
    return this.#delivered;
  }

  recent(): AlertTransition[] {
    return this.#recent.length > this.#keep ? this.#recent.slice(-this.#keep) : this.#recent;
  }

  /** Written before it returns; durable against power loss after the next `sync()`. */
  append(changes: Change[], transitions: AlertTransition[]): void {
    if (changes.length === 0 && transitions.length === 0) return;
    this.#write({ c: changes, t: transitions });
    this.#remember(transitions);
  }

  markDelivered(seq: number): void {
    if (seq <= this.#delivered) return;
    this.#delivered = seq;
    this.#write({ d: seq });
  }

  #write(line: Line): void {
    const text = `${JSON.stringify(line)}\n`;
    this.#bytes += writeSync(this.#fd, text);
    this.#syncTimer ??= setTimeout(() => this.sync(), this.#syncIntervalMs).unref();
  }

  /** fsync of everything appended so far: call it before delivering the transitions appended. */
  sync(): void {
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    const started = performance.now();
    fsyncSync(this.#fd);
    this.#onFsync?.((performance.now() - started) / 1000);
  }

  /** Past twice the snapshot too: rewriting a large state for every few MB of journal would cost more than replaying it. */
  needsCompaction(): boolean {
    return this.#bytes > Math.max(this.#compactBytes, 2 * this.#snapshotBytes);
  }

  /** Replaces snapshot + journal with a snapshot of `state`, which must include every journalled change. */
  compact(state: DurableState): void {
    const snapshot: Snapshot = { v: 1, state, delivered: this.#delivered, recent: this.recent() };
    const text = JSON.stringify(snapshot);
    this.#rewrite(this.#snapshotPath, text);
    this.#snapshotBytes = text.length;
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    closeSync(this.#fd);
    this.#rewrite(this.#journalPath, '');
    this.#fd = openSync(this.#journalPath, 'a');
    this.#bytes = 0;
    this.#recent = this.recent();
  }

  #rewrite(path: string, text: string): void {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    const dir = openSync(this.#dir, 'r');
    fsyncSync(dir);
    closeSync(dir);
  }

  close(): void {
    this.sync();
    closeSync(this.#fd);
  }
}

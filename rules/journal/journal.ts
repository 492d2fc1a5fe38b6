import { existsSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { appendAll, closeQuietly, diskFault, replaceFile } from '../../lib/disk.ts';
import { type Change, type DurableState, applyChanges, emptyState } from '../engine/state.ts';
import type { DiskGuard } from './guard.ts';

/**
 * One line of journal.jsonl: a step's state changes with its transitions, a delivery watermark, or (first
 * line) the epoch of the snapshot the journal continues.
 */
type Line = { c: Change[]; t: AlertTransition[] } | { d: number } | { e: number };

interface Snapshot {
  v: 1;
  state: DurableState;
  delivered: number;
  recent: AlertTransition[];
  /** Counts compactions; a journal of an older epoch is already in this snapshot (absent before epochs: 0). */
  epoch?: number;
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
  /**
   * The service's answer to a disk that refuses: the journal reports the fault to `guard`, stops writing,
   * and writes a snapshot of `state()` (the engine's whole state) once the disk takes it. Without it a
   * failed write throws a DiskFault.
   */
  durable?: { guard: DiskGuard; state: () => DurableState };
}

/** The epoch a journal continues, from its first line (none before epochs were written: 0). */
function epochOf(first: string | undefined): number {
  try {
    const line = JSON.parse(first ?? '') as Line;
    return 'e' in line ? line.e : 0;
  } catch {
    return 0;
  }
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
 * a disk flush, so it is a group commit: the caller awaits `syncAsync()` (or calls `sync()`) before it
 * delivers transitions, once for all the steps since the last; without a caller's sync the journal fsyncs within `syncIntervalMs` (rule
 * timers moving on with every reading, delivery watermarks), so a power cut can at worst restart a hold
 * timer or repeat a notification, never lose a delivered alert. A torn last line
 * (kill -9 mid-write) is dropped: its step was never delivered to anyone. A bad line anywhere else means
 * the file was damaged, and the service refuses to start on it.
 *
 * When the disk refuses a write (full, read-only, I/O error) and a `durable` guard is given, the journal
 * stops writing and keeps what it needs in memory (the engine holds the state); the guard retries, and the
 * journal starts over with a snapshot of the whole state, which covers every step it could not write.
 * Each compaction starts a new epoch, written in the snapshot and as the journal's first line, so a
 * compaction cut off between its two renames leaves an old journal that restore knows to skip.
 */
export class Journal {
  readonly #journalPath: string;
  readonly #snapshotPath: string;
  readonly #compactBytes: number;
  readonly #keep: number;
  readonly #syncIntervalMs: number;
  readonly #onFsync: ((seconds: number) => void) | undefined;
  readonly #durable: JournalOptions['durable'];
  /** Undefined while the disk refuses (or the journal is closed): nothing is written until a rewrite. */
  #fd: number | undefined;
  /** Counts the files `#fd` has named: a background fsync of an earlier one reports to nobody. */
  #generation = 0;
  #bytes = 0;
  #epoch = 0;
  #snapshotBytes = 0;
  #syncTimer: NodeJS.Timeout | undefined;
  #delivered = 0;
  #recent: AlertTransition[] = [];

  private constructor(dir: string, options: JournalOptions) {
    this.#journalPath = join(dir, 'journal.jsonl');
    this.#snapshotPath = join(dir, 'snapshot.json');
    this.#compactBytes = options.compactBytes ?? 4 * 1024 * 1024;
    this.#keep = options.keepTransitions ?? 1000;
    this.#syncIntervalMs = options.syncIntervalMs ?? 200;
    this.#onFsync = options.onFsync;
    this.#durable = options.durable;
    options.durable?.guard.last(this);
    try {
      mkdirSync(dir, { recursive: true });
      this.#fd = openSync(this.#journalPath, 'a');
      this.#bytes = statSync(this.#journalPath).size;
    } catch (error) {
      this.#fail(error, 'open');
    }
  }

  /** A disk that refuses at start (read-only, full) still gives what it holds; the guard then retries. */
  static open(dir: string, options: JournalOptions = {}): { journal: Journal; restored: Restored } {
    const journal = new Journal(dir, options);
    const restored = journal.#restore();
    return { journal, restored };
  }

  #restore(): Restored {
    let state = emptyState();
    let snapshotEpoch = 0;
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
      snapshotEpoch = snapshot.epoch ?? 0;
    }
    this.#epoch = snapshotEpoch;
    const text = existsSync(this.#journalPath) ? readFileSync(this.#journalPath, 'utf8') : '';
    const lines = text.split('\n');
    if (epochOf(lines[0]) < snapshotEpoch) {
      // A compaction stopped between writing the snapshot and emptying the journal: all of it is in the snapshot.
      this.#restartJournal();
    } else {
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
        if ('e' in line) return;
        if ('d' in line) this.#delivered = Math.max(this.#delivered, line.d);
        else {
          applyChanges(state, line.c);
          this.#remember(line.t);
        }
      });
      // Cut a torn tail so the next append starts on a line of its own.
      if (text.length > 0 && !text.endsWith('\n'))
        this.#restartJournal(text.slice(0, text.lastIndexOf('\n') + 1));
    }
    return { state, delivered: this.#delivered, recent: [...this.#recent] };
  }

  /** Replaces the journal file (default: empty, of the current epoch) and appends from there. */
  #restartJournal(text = `${JSON.stringify({ e: this.#epoch })}\n`): void {
    if (this.#fd === undefined) return;
    try {
      this.#closeFd();
      replaceFile(this.#journalPath, Buffer.from(text));
      this.#fd = openSync(this.#journalPath, 'a');
      this.#bytes = Buffer.byteLength(text);
    } catch (error) {
      this.#fail(error, 'rewrite');
    }
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

  /** False while the disk refuses: steps are then kept in memory only, until the guard's rewrite. */
  get durable(): boolean {
    return this.#fd !== undefined;
  }

  #write(line: Line): void {
    if (this.#fd === undefined) return;
    const data = Buffer.from(`${JSON.stringify(line)}\n`);
    try {
      appendAll(this.#fd, data, this.#bytes);
    } catch (error) {
      this.#fail(error, 'append');
      return;
    }
    this.#bytes += data.length;
    this.#syncTimer ??= setTimeout(() => this.#syncInBackground(), this.#syncIntervalMs).unref();
  }

  /**
   * The timer's fsync, on libuv's thread pool. Behind InfluxDB's writes a flush took up to hundreds of ms,
   * and on the event loop it held every alarm press waiting behind it (the rules' loop lag reached 0.9 s at
   * 30,000 readings/s offered, 1.2 s of fsyncSync in one run). The transitions' own fsync is off the loop
   * too (`syncAsync`), their delivery waiting for it.
   */
  #syncInBackground(): void {
    this.#syncTimer = undefined;
    const fd = this.#fd;
    if (fd === undefined) return;
    const generation = this.#generation;
    const started = performance.now();
    fsync(fd, (error) => {
      // Compacted or closed meanwhile: that file is gone or synced, and its number may name the new one.
      if (generation !== this.#generation) return;
      if (error) this.#fail(error, 'fsync');
      else this.#onFsync?.((performance.now() - started) / 1000);
    });
  }

  /**
   * fsync of everything appended so far, on libuv's thread pool: resolves once it is on disk (or the disk
   * failed, which is reported as for `sync`). The event loop goes on meanwhile, so an alarm press is read
   * while the disk is slow; its caller delivers the transitions appended before the call only then.
   */
  syncAsync(): Promise<void> {
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    const fd = this.#fd;
    if (fd === undefined) return Promise.resolve();
    const generation = this.#generation;
    const started = performance.now();
    return new Promise((resolve) => {
      fsync(fd, (error) => {
        // Compacted meanwhile: the snapshot, fsync'd before its rename, holds everything appended before.
        if (generation === this.#generation) {
          if (error) this.#fail(error, 'fsync');
          else this.#onFsync?.((performance.now() - started) / 1000);
        }
        resolve();
      });
    });
  }

  /** fsync of everything appended so far: call it before delivering the transitions appended. */
  sync(): void {
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    if (this.#fd === undefined) return;
    const started = performance.now();
    try {
      fsyncSync(this.#fd);
    } catch (error) {
      this.#fail(error, 'fsync');
      return;
    }
    this.#onFsync?.((performance.now() - started) / 1000);
  }

  /** Past twice the snapshot too: rewriting a large state for every few MB of journal would cost more than replaying it. */
  needsCompaction(): boolean {
    return this.#fd !== undefined && this.#bytes > Math.max(this.#compactBytes, 2 * this.#snapshotBytes);
  }

  /** Replaces snapshot + journal with a snapshot of `state`, which must include every journalled change. */
  compact(state: DurableState): void {
    if (this.#fd === undefined) return;
    try {
      this.#compact(state);
    } catch (error) {
      this.#fail(error, 'compaction');
    }
  }

  /** The guard's retry: the disk may take writes again, so start over from the engine's whole state. */
  rewrite(): void {
    if (!this.#durable) return;
    this.#compact(this.#durable.state());
  }

  #compact(state: DurableState): void {
    const epoch = this.#epoch + 1;
    const snapshot: Snapshot = { v: 1, state, delivered: this.#delivered, recent: this.recent(), epoch };
    const text = JSON.stringify(snapshot);
    replaceFile(this.#snapshotPath, Buffer.from(text));
    this.#epoch = epoch;
    this.#snapshotBytes = text.length;
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    this.#closeFd();
    const header = `${JSON.stringify({ e: epoch })}\n`;
    replaceFile(this.#journalPath, Buffer.from(header));
    this.#fd = openSync(this.#journalPath, 'a');
    this.#bytes = header.length;
    this.#recent = this.recent();
  }

  /** The disk refused: report it once, stop writing, and leave the rest to the guard's rewrite. */
  #fail(error: unknown, what: string): void {
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    this.#closeFd();
    if (!this.#durable) throw diskFault(error, this.#journalPath, `rules journal ${what}`);
    this.#durable.guard.failed(this, error, this.#journalPath, `rules journal ${what}`);
  }

  #closeFd(): void {
    if (this.#fd !== undefined) closeQuietly(this.#fd);
    this.#fd = undefined;
    this.#generation += 1;
  }

  close(): void {
    this.sync();
    this.#closeFd();
  }
}

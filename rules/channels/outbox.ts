import { existsSync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { appendAll, closeQuietly, diskFault, replaceFile } from '../../lib/disk.ts';
import type { DiskGuard } from '../journal/guard.ts';

/**
 * One line of an outbox file: a transition taken, transitions settled (the peer confirmed them, or they
 * failed for good and were counted), a message sent to the peer (for rate budgets that outlive the
 * process), or the highest seq taken before a compaction.
 */
type Line = { t: AlertTransition } | { s: number[] } | { p: number } | { h: number };

export interface OutboxOptions {
  /** Compact once this many lines the next start no longer needs (settles, sends) are in the file. */
  compactAfter?: number;
  /** How long send times are kept (the longest rate window of the channel). */
  keepSendsMs?: number;
  /**
   * Where a disk fault goes (the rules service's, shared with its journal): the outbox then keeps its
   * queue in memory, the channel goes on delivering, and the guard rewrites the file once the disk takes
   * it. Without it a failed write throws a DiskFault.
   */
  guard?: DiskGuard;
}

/**
 * A channel's durable delivery queue (rules/channels/README.md "Outbox"). A transition is written here when
 * the channel takes it and settled when the peer confirms it, so a transition the journal has handed to the
 * channel survives a kill -9 of the rules process until its peer has it, and is replayed on the next start.
 * `take` refuses a seq at or below the highest already taken, so the journal's own replay of transitions
 * not yet marked delivered cannot put one in twice. Writes are synchronous (a kill -9 loses nothing the
 * kernel has); takes are fsync'd once per event-loop turn, before the journal's delivery watermark is.
 * While the disk refuses, nothing is written and the queue lives in memory only (a kill -9 then loses what
 * the peers had not confirmed); the guard's rewrite puts all of it back on disk.
 */
export class Outbox {
  readonly path: string;
  readonly #compactAfter: number;
  readonly #keepSendsMs: number;
  readonly #guard: DiskGuard | undefined;
  /** Undefined while the disk refuses: nothing is written until a rewrite. */
  #fd: number | undefined;
  #bytes = 0;
  #high = 0;
  readonly #pending = new Map<number, AlertTransition>();
  #sends: number[] = [];
  #spentLines = 0;
  #syncing: NodeJS.Immediate | undefined;
  /** A peer's late confirmation (after a close that timed out) must not write to a closed file. */
  #closed = false;

  private constructor(path: string, options: OutboxOptions) {
    this.path = path;
    this.#compactAfter = options.compactAfter ?? 1000;
    this.#keepSendsMs = options.keepSendsMs ?? 60_000;
    this.#guard = options.guard;
    if (existsSync(path)) this.#restore(readFileSync(path, 'utf8'));
    this.#attempt('open', () => {
      mkdirSync(dirname(path), { recursive: true });
      this.#compact();
    });
  }

  /** `name` is the channel's name; anything but letters, digits, `-` and `_` becomes `-` in the file name. */
  static open(dir: string, name: string, options: OutboxOptions = {}): Outbox {
    return new Outbox(join(dir, `${name.replace(/[^\w-]/g, '-')}.jsonl`), options);
  }

  #restore(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        // A torn line is the last write of a killed process: a take that was never confirmed to the
        // journal (it is delivered again from there) or a settle/send record (at worst a repeat).
        continue;
      }
      if ('t' in line) {
        this.#pending.set(line.t.seq, line.t);
        this.#high = Math.max(this.#high, line.t.seq);
      } else if ('s' in line) for (const seq of line.s) this.#pending.delete(seq);
      else if ('p' in line) this.#sends.push(line.p);
      else this.#high = Math.max(this.#high, line.h);
    }
  }

  /** Transitions taken and not settled, oldest first. */
  pending(): AlertTransition[] {
    return [...this.#pending.values()].sort((a, b) => a.seq - b.seq);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** When messages were sent to the peer within the last `keepSendsMs`, this process or the one before. */
  recentSends(now = Date.now()): number[] {
    return this.#sends.filter((at) => at > now - this.#keepSendsMs);
  }

  /** False when `transition` (or a later one) was taken before: the caller must not queue it again. */
  take(transition: AlertTransition): boolean {
    if (this.#closed || transition.seq <= this.#high) return false;
    this.#high = transition.seq;
    this.#pending.set(transition.seq, transition);
    this.#write({ t: transition });
    this.#syncing ??= setImmediate(() => this.sync());
    return true;
  }

  settle(seqs: number[]): void {
    if (this.#closed) return;
    const known = seqs.filter((seq) => this.#pending.delete(seq));
    if (known.length === 0) return;
    this.#write({ s: known });
    this.#spentLines += known.length;
    if (this.#spentLines >= this.#compactAfter && this.#fd !== undefined)
      this.#attempt('compaction', () => this.#compact());
  }

  recordSend(at = Date.now()): void {
    if (this.#closed) return;
    this.#sends = this.recentSends(at);
    this.#sends.push(at);
    this.#write({ p: at });
    // A target that stays down is retried for as long as it is: its send records must not grow the file forever.
    if (++this.#spentLines >= this.#compactAfter && this.#fd !== undefined)
      this.#attempt('compaction', () => this.#compact());
  }

  sync(): void {
    clearImmediate(this.#syncing);
    this.#syncing = undefined;
    const fd = this.#fd;
    if (!this.#closed && fd !== undefined) this.#attempt('fsync', () => fsyncSync(fd));
  }

  #write(line: Line): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    const data = Buffer.from(`${JSON.stringify(line)}\n`);
    this.#attempt('append', () => {
      appendAll(fd, data, this.#bytes);
      this.#bytes += data.length;
    });
  }

  /** The guard's retry: everything the outbox holds, written afresh. */
  rewrite(): void {
    if (!this.#closed) this.#compact();
  }

  /** Rewrites the file with what is still needed: the high seq, recent sends and the pending transitions. */
  #compact(): void {
    const lines: Line[] = [
      { h: this.#high },
      ...this.recentSends().map((p) => ({ p })),
      ...this.pending().map((t) => ({ t })),
    ];
    const data = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    this.#closeFd();
    replaceFile(this.path, data);
    this.#fd = openSync(this.path, 'a');
    this.#bytes = data.length;
    this.#spentLines = 0;
  }

  /** Runs a write; when the disk refuses it, the outbox stops writing and tells the guard (or throws without one). */
  #attempt(what: string, write: () => void): void {
    try {
      write();
    } catch (error) {
      this.#closeFd();
      if (!this.#guard) throw diskFault(error, this.path, `outbox ${what}`);
      this.#guard.failed(this, error, this.path, `outbox ${what}`);
    }
  }

  #closeFd(): void {
    if (this.#fd !== undefined) closeQuietly(this.#fd);
    this.#fd = undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.sync();
    if (this.#fd !== undefined) this.#attempt('compaction', () => this.#compact());
    this.#closeFd();
    this.#closed = true;
  }
}

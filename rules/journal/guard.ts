import { type DiskFault, diskFault } from '../../lib/disk.ts';
import type { Logger } from '../../lib/logger.ts';
import { type CheckOutcome, unless } from '../../lib/ops/index.ts';

/** A store of the rules' local state (the journal, an outbox) that keeps what it holds in memory while its disk refuses. */
export interface GuardedStore {
  /** Writes everything it holds afresh (a snapshot, a compacted outbox); throws while the disk still refuses. */
  rewrite(): void;
}

export interface DiskGuardOptions {
  /** How often a store whose disk refused tries to write all it holds afresh. */
  retryMs?: number;
  /** Told when the stores become durable again, with the seconds they were not. */
  onRecovered?: (seconds: number) => void;
}

/**
 * What the rules service does when its disk refuses (full, read-only, failing): it goes on. The engine keeps
 * running in memory and transitions go to the live channels; a failed store stops writing and keeps its data
 * in memory; `/healthz` names the path and the cause; one error line is logged per outage, not one per
 * step; and every `retryMs` each failed store tries to write everything it holds afresh. The journal is
 * registered `last` and retried only once every other store is durable: its snapshot's delivery watermark
 * says the outboxes hold what was delivered, which must be true on disk before the snapshot says so.
 */
export class DiskGuard {
  readonly #log: Logger;
  readonly #retryMs: number;
  readonly #onRecovered: ((seconds: number) => void) | undefined;
  readonly #faults = new Map<GuardedStore, DiskFault>();
  #last: GuardedStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #since = 0;

  constructor(log: Logger, options: DiskGuardOptions = {}) {
    this.#log = log;
    this.#retryMs = options.retryMs ?? 5_000;
    this.#onRecovered = options.onRecovered;
  }

  /** Marks the store retried after all others (the journal). */
  last(store: GuardedStore): void {
    this.#last = store;
  }

  /** `store` could not write `path`: from now on it writes nothing until its `rewrite` succeeds. */
  failed(store: GuardedStore, error: unknown, path: string, what: string): void {
    if (this.#faults.has(store)) return;
    const fault = diskFault(error, path, what);
    const first = this.#faults.size === 0;
    this.#faults.set(store, fault);
    if (first) {
      this.#since = performance.now();
      this.#log.error(
        { path, code: fault.code },
        `${fault.reason}. Alerts still go out live, but the rules' state is not durable until the disk takes writes again (retried every ${this.#retryMs / 1000} s)`,
      );
      this.#timer = setInterval(() => this.retry(), this.#retryMs).unref();
    } else this.#log.warn({ path, code: fault.code }, fault.reason);
  }

  /** One round of rewrites; the timer calls it, and shutdown does for a last chance. */
  retry(): void {
    const order = [...this.#faults.keys()].sort(
      (a, b) => Number(a === this.#last) - Number(b === this.#last),
    );
    for (const store of order) {
      if (store === this.#last && this.#faults.size > 1) break;
      try {
        store.rewrite();
        this.#faults.delete(store);
      } catch {
        // Still refused: the fault first reported stands for the outage, and the next round tries again.
      }
    }
    if (this.#faults.size > 0 || this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const seconds = (performance.now() - this.#since) / 1000;
    this.#log.info({ seconds }, 'the disk takes writes again: rules state written afresh and durable');
    this.#onRecovered?.(seconds);
  }

  get faults(): DiskFault[] {
    return [...this.#faults.values()];
  }

  /** The `/healthz` check `journal`. */
  check(): CheckOutcome {
    return unless(this.#faults.size === 0, this.faults.map((f) => f.reason).join('; '));
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

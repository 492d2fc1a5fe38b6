/**
 * A sliding-window message budget: at most `limit` messages in any `windowMs`. Sliding, not per calendar
 * minute, because it is the strictest reading of "20 messages a minute" (a target counting per calendar
 * minute or per rolling minute is kept within either way). Callers record a message when its answer came
 * back (or the attempt ended): the target counted it on arrival, which is no later than that, so every
 * window the target can see holds at most `limit`.
 */
export class SlidingWindow {
  #sent: number[];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    /** Messages sent before (by the process before a restart), so a restart cannot start a fresh budget. */
    history: number[] = [],
  ) {
    this.#sent = [...history].sort((a, b) => a - b);
  }

  #expire(now: number): void {
    while (this.#sent.length > 0 && this.#sent[0]! <= now - this.windowMs) this.#sent.shift();
  }

  /** Messages that may be sent now without leaving the budget. */
  available(now = Date.now()): number {
    this.#expire(now);
    return Math.max(0, this.limit - this.#sent.length);
  }

  /** When the next message may go (now when one is available). */
  nextAt(now = Date.now()): number {
    if (this.available(now) > 0) return now;
    return this.#sent[this.#sent.length - this.limit]! + this.windowMs;
  }

  record(at = Date.now()): void {
    this.#sent.push(at);
  }
}

import type { Readable } from 'node:stream';

/**
 * Bounds the time one event-loop turn spends on a bulk stream. libuv reads a ready socket up to 32 times
 * (64 KiB each) before it looks at the next one, and mqtt.js hands on every packet of each read at once: with
 * the rules behind a telemetry backlog that was seconds of readings per turn, and an alarm press already
 * waiting on the priority socket was read after them. A per-hop trace of 200 presses at 30,000 offered
 * readings/s put p90 836 ms and p99 2.7 s between the broker's write to the priority socket and the rules'
 * receive; every other hop was under 0.6 s at p99. Past `budgetMs` in a turn the stream is paused until
 * the loop has polled every other socket once (the check phase, `setImmediate`), then read again.
 *
 * Returns what to call after each message of the stream; `stream()` is read at each call because a
 * reconnecting client gets a new one.
 */
export function turnBudget(stream: () => Readable | undefined, budgetMs: number): () => void {
  let turnStartedAt: number | undefined;
  let paused: Readable | undefined;
  return () => {
    const now = performance.now();
    if (turnStartedAt === undefined) {
      turnStartedAt = now;
      setImmediate(() => {
        turnStartedAt = undefined;
      });
      return;
    }
    if (paused || now - turnStartedAt < budgetMs) return;
    const current = stream();
    if (!current || current.destroyed) return;
    paused = current;
    current.pause();
    setImmediate(() => {
      paused = undefined;
      if (!current.destroyed) current.resume();
    });
  };
}

import { describe, expect, it } from 'vitest';
import { turnBudget } from './turn-budget.ts';

/** Holds the event loop as a rule step over a batch of readings does. */
function work(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/**
 * mqtt.js's way with the packets of a read: handle one, call `handleMessage`, and take the next on
 * `process.nextTick` once it calls back. Resolves with the items in the order they were handled.
 */
function chain(
  items: number,
  handleMessage: (packet: unknown, callback: () => void) => void,
  onItem: (i: number) => void,
): Promise<number[]> {
  const seen: number[] = [];
  return new Promise((resolve) => {
    let i = 0;
    const next = () => {
      if (i === items) return resolve(seen);
      seen.push(i);
      onItem(i);
      i += 1;
      handleMessage(undefined, () => process.nextTick(next));
    };
    next();
  });
}

/** Items handled in each turn of the event loop, counted at every check phase until `done`. */
function perTurn(done: () => boolean) {
  const turns: number[] = [];
  let inTurn = 0;
  const count = () => {
    turns.push(inTurn);
    inTurn = 0;
    if (!done()) setImmediate(count);
  };
  setImmediate(count);
  return { handled: () => (inTurn += 1), turns };
}

describe('turnBudget', () => {
  it('hands the rest of a nextTick chain to later turns once the turn has used its budget', async () => {
    let finished = false;
    const counter = perTurn(() => finished);
    const seen = await chain(60, turnBudget(5), () => {
      counter.handled();
      work(2);
    });
    finished = true;
    // Every item, in order: deferring loses and reorders nothing.
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // 2 ms an item against a 5 ms budget: the fourth item of a turn finds the budget spent and its callback
    // waits for the check phase, after the loop has polled everything else.
    expect(Math.max(...counter.turns)).toBeLessThanOrEqual(4);
    expect(counter.turns.filter((n) => n > 0).length).toBeGreaterThanOrEqual(15);
  });

  it('runs a cheap chain in one go', async () => {
    let turnsPassed = 0;
    const tick = setInterval(() => (turnsPassed += 1), 0);
    const seen = await chain(60, turnBudget(1_000), () => {});
    clearInterval(tick);
    expect(seen).toHaveLength(60);
    expect(turnsPassed).toBe(0);
  });
});

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { turnBudget } from './turn-budget.ts';

/** Holds the event loop as a rule step over a batch of readings does. */
function work(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** A stream with `chunks` already buffered: in flowing mode Node hands them all on in one turn. */
function backlog(chunks: number): Readable {
  const stream = new Readable({ read() {} });
  for (let i = 0; i < chunks; i += 1) stream.push(Buffer.from(String(i)));
  stream.push(null);
  return stream;
}

describe('turnBudget', () => {
  it('stops reading a backlog once the turn has used its budget, and reads the rest in later turns', async () => {
    const stream = backlog(60);
    const spend = turnBudget(() => stream, 5);
    const seen: number[] = [];
    const turns: number[] = [];
    let inTurn = 0;
    const countTurn = () => {
      turns.push(inTurn);
      inTurn = 0;
      if (!stream.readableEnded) setImmediate(countTurn);
    };
    setImmediate(countTurn);
    stream.on('data', (chunk: Buffer) => {
      spend();
      inTurn += 1;
      seen.push(Number(chunk.toString()));
      work(2);
    });
    await new Promise((resolve) => stream.once('end', resolve));
    // Every chunk, in order: pausing loses and reorders nothing.
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // 2 ms a chunk against a 5 ms budget: the fourth chunk of a turn finds the budget spent and pauses
    // the stream, and the loop polls everything else before it is read again.
    expect(Math.max(...turns, inTurn)).toBeLessThanOrEqual(4);
  });

  it('reads a backlog in one go when the turn is cheap', async () => {
    const stream = backlog(60);
    const spend = turnBudget(() => stream, 1_000);
    let paused = 0;
    stream.on('pause', () => (paused += 1));
    let seen = 0;
    stream.on('data', () => {
      spend();
      seen += 1;
    });
    await new Promise((resolve) => stream.once('end', resolve));
    expect(seen).toBe(60);
    expect(paused).toBe(0);
  });
});

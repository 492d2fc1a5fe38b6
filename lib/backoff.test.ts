import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from './backoff.ts';

describe('backoff', () => {
  it('grows exponentially within [min/2, max] and resets', () => {
    const high = new Backoff(100, 1_000, () => 1);
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
    const low = new Backoff(100, 1_000, () => 0);
    expect(low.next()).toBe(50);
    high.reset();
    expect(high.attempt).toBe(0);
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts', async () => {
    const abort = new AbortController();
    let done = false;
    const waiting = sleep(60_000, abort.signal).then(() => (done = true));
    abort.abort();
    await waiting;
    expect(done).toBe(true);
  });
});

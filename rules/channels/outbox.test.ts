import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleTransition } from './channel-contract.ts';
import { Outbox } from './outbox.ts';

describe('Outbox (a channel’s durable delivery queue)', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'cw-outbox-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps what was taken and not settled across a reopen, and refuses a seq it already took', () => {
    const d = dir();
    const ts = [1, 2, 3, 4].map((seq) => sampleTransition({ seq }));
    const first = Outbox.open(d, 'webhook:a');
    for (const t of ts) expect(first.take(t)).toBe(true);
    first.settle([1, 3]);
    first.recordSend(Date.now());
    // No close: the process was killed, the file is as the last write left it.
    const second = Outbox.open(d, 'webhook:a');
    expect(second.pending().map((t) => t.seq)).toEqual([2, 4]);
    expect(second.recentSends()).toHaveLength(1);
    expect(second.take(ts[2]!)).toBe(false);
    expect(second.take(sampleTransition({ seq: 5 }))).toBe(true);
    second.close();
    first.close();
  });

  it('drops a torn last line and compacts to the pending transitions and the highest seq', () => {
    const d = dir();
    const box = Outbox.open(d, 'mqtt', { compactAfter: 2 });
    for (const seq of [1, 2, 3]) box.take(sampleTransition({ seq }));
    box.settle([1]);
    box.settle([2]);
    const lines = readFileSync(box.path, 'utf8').trim().split('\n');
    expect(lines.map((l) => Object.keys(JSON.parse(l) as object)[0])).toEqual(['h', 't']);
    box.close();
    appendFileSync(box.path, '{"t":{"seq":9');
    const reopened = Outbox.open(d, 'mqtt');
    expect(reopened.pending().map((t) => t.seq)).toEqual([3]);
    expect(reopened.take(sampleTransition({ seq: 2 }))).toBe(false);
    reopened.close();
    // Late confirmations after close (a peer answering a timed-out close) are ignored, not a crash.
    expect(() => reopened.settle([3])).not.toThrow();
  });
});

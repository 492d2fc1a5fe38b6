import { describe, expect, it } from 'vitest';
import { HOLD_LEASE_MS, InputProgress } from './progress.ts';

const S = 1000;
const SILENCE = 30 * S;

describe('InputProgress', () => {
  it('hands back only the waiting wearables whose deadline the watermark has passed', () => {
    const p = new InputProgress(0);
    // The gateway delivers, but its readings arrive 30 s late.
    p.advance('ca', 'gw-1', 0, 30 * S);
    for (let i = 0; i < 100; i++)
      expect(p.admits('gw-1', `w-${i}`, 30 * S + i * S, 31 * S, SILENCE)).toBe(false);
    // A reading placed at 40 s passes the deadlines of w-0 … w-10, and no other.
    expect(p.advance('ca', 'gw-1', 40 * S, 31 * S)).toEqual(Array.from({ length: 11 }, (_, i) => `w-${i}`));
    expect(p.advance('ca', 'gw-1', 40 * S, 31 * S)).toEqual([]);
    expect(p.waits('gw-1')).toBe(true);
    expect(p.release('gw-1')).toHaveLength(89);
    expect(p.waits('gw-1')).toBe(false);
  });

  it('a deadline that moved replaces the one it waited for', () => {
    const p = new InputProgress(0);
    p.advance('ca', 'gw-1', 0, 30 * S);
    expect(p.admits('gw-1', 'w-1', 30 * S, 31 * S, SILENCE)).toBe(false);
    expect(p.admits('gw-1', 'w-1', 45 * S, 46 * S, SILENCE)).toBe(false);
    expect(p.advance('ca', 'gw-1', 40 * S, 46 * S)).toEqual([]);
    expect(p.advance('ca', 'gw-1', 45 * S, 46 * S)).toEqual(['w-1']);
  });

  it("time a broker held does not count towards a source's silence; overlapping holds join", () => {
    const p = new InputProgress(0);
    p.advance('ca', 'gw-1', 10 * S, 10 * S);
    expect(p.silentAt('gw-1', SILENCE, 10 * S)).toBe(40 * S);
    p.hold('broker-1', true, 20 * S);
    p.hold('broker-2', true, 22 * S);
    // In force: after the lease, moved on each time the broker says it still holds.
    expect(p.silentAt('gw-1', SILENCE, 22 * S)).toBe(22 * S + HOLD_LEASE_MS + 20 * S);
    // Another source's progress is not this one's: two connections' queues fall behind independently.
    expect(p.advance('ca', 'gw-2', 60 * S, 22 * S)).toEqual([]);
    p.hold('broker-2', false, 25 * S);
    p.hold('broker-1', true, 26 * S);
    p.hold('broker-1', false, 28 * S);
    // 10 s before the stall, 8 s of stall (20 s to 28 s), then the 20 s left.
    expect(p.stalledSince(28 * S)).toBeUndefined();
    expect(p.silentAt('gw-1', SILENCE, 28 * S)).toBe(48 * S);
  });
});

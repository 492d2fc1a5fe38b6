import { describe, expect, it } from 'vitest';
import {
  type AlertTransition,
  cursorFloor,
  formatStreamCursor,
  isAfterCursor,
  parseStreamCursor,
} from './alerts.ts';

const at = (center: string, seq: number) => ({ seq, alert: { center } }) as AlertTransition;

describe('SSE stream cursor (Last-Event-ID across front ends)', () => {
  it('reads a plain seq as every centre at that seq, as a single rules process wrote it', () => {
    const cursor = parseStreamCursor('42')!;
    expect([isAfterCursor(cursor, at('c1', 42)), isAfterCursor(cursor, at('c9', 43))]).toEqual([false, true]);
    expect(cursorFloor(cursor)).toBe(42);
  });

  it('keeps one seq per centre, since two partitions number their transitions apart', () => {
    const cursor = parseStreamCursor('c1:120,c2:7')!;
    expect(formatStreamCursor(cursor)).toBe('c1:120,c2:7');
    expect(isAfterCursor(cursor, at('c2', 8))).toBe(true);
    expect(isAfterCursor(cursor, at('c1', 100))).toBe(false);
    expect(isAfterCursor(cursor, at('c3', 1))).toBe(true);
    expect(cursorFloor(cursor)).toBe(0);
  });

  it.each(['', 'abc', 'c1:', 'C1:3', 'c1:3,', 'c1:-1', '1.5'])('refuses %j', (raw) => {
    expect(parseStreamCursor(raw)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { ageInMonths, localTime } from './time.ts';

describe('localTime', () => {
  it('answers each instant in its zone, across minutes, midnight and a DST change, in any order', () => {
    // 2026-03-29 01:00 UTC: Europe/London goes from GMT to BST; Shanghai has no DST.
    const change = Date.UTC(2026, 2, 29, 1, 0);
    const instants = [change - 60_000, change - 1, change, change + 59_999, change + 60_000, change - 1];
    expect(instants.map((ms) => localTime(ms, 'Europe/London').minuteOfDay)).toEqual([
      59, 59, 120, 120, 121, 59,
    ]);
    const midnight = Date.UTC(2026, 0, 31, 16, 0); // 00:00 on 1 February in Shanghai (UTC+8)
    expect(localTime(midnight - 1, 'Asia/Shanghai')).toMatchObject({ day: '2026-01-31', minuteOfDay: 1439 });
    expect(localTime(midnight, 'Asia/Shanghai')).toMatchObject({
      day: '2026-02-01',
      month: 2,
      minuteOfDay: 0,
    });
    // The same instant in another zone is not answered from the first zone's minute.
    expect(localTime(midnight, 'UTC')).toMatchObject({ day: '2026-01-31', minuteOfDay: 16 * 60 });
  });

  it('counts completed months on the local date, as if born on the last day of the birth month', () => {
    const shanghaiMidnight = (month: number, day: number) =>
      Date.UTC(2026, month - 1, day, 0, 0) - 8 * 3_600_000;
    // Born in March 2025: "12 calendar months" on 1 March 2026, but possibly 11 months and 30 days old.
    expect(ageInMonths('2025-03', shanghaiMidnight(3, 1), 'Asia/Shanghai')).toBe(11);
    expect(ageInMonths('2025-03', shanghaiMidnight(3, 31) - 1, 'Asia/Shanghai')).toBe(11);
    expect(ageInMonths('2025-03', shanghaiMidnight(3, 31), 'Asia/Shanghai')).toBe(12);
    // Born in January (31 days): the monthly birthday in February is its last day.
    expect(ageInMonths('2026-01', shanghaiMidnight(2, 27), 'Asia/Shanghai')).toBe(0);
    expect(ageInMonths('2026-01', shanghaiMidnight(2, 28), 'Asia/Shanghai')).toBe(1);
  });
});

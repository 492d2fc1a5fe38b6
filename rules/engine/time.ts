/** Calendar arithmetic in a centre's timezone, via Intl: deterministic for a given instant and zone. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalTime {
  year: number;
  month: number;
  /** YYYY-MM-DD */
  day: string;
  /** Minutes since local midnight. */
  minuteOfDay: number;
}

/**
 * The last answer per zone, by UTC minute: every zone in use has a whole-minute offset, so one UTC minute is
 * one local minute, and readings arrive in time order, so the rules ask for the same minute thousands of
 * times (formatToParts is the costly part of judging a reading).
 */
const lastMinute = new Map<string, { minute: number; local: LocalTime }>();

export function localTime(ms: number, timeZone: string): LocalTime {
  const minute = Math.floor(ms / 60_000);
  const cached = lastMinute.get(timeZone);
  if (cached?.minute === minute) return cached.local;
  const local = formatLocalTime(ms, timeZone);
  lastMinute.set(timeZone, { minute, local });
  return local;
}

function formatLocalTime(ms: number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(ms)) parts[p.type] = p.value;
  const year = Number(parts.year);
  const month = Number(parts.month);
  return {
    year,
    month,
    day: `${parts.year}-${parts.month}-${parts.day}`,
    minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * Completed months of age on the local date of `ms`. The registry keeps only the birth month, so the age
 * rounds towards younger (the safe side of every age limit): the infant is taken as born on its last day.
 */
export function ageInMonths(birthMonth: string, ms: number, timeZone: string): number {
  const [y, m] = birthMonth.split('-').map(Number) as [number, number];
  const now = localTime(ms, timeZone);
  const day = Number(now.day.slice(8));
  // The monthly birthday of someone born on the 31st falls on the month's last day in shorter months.
  const birthday = Math.min(daysIn(y, m), daysIn(now.year, now.month));
  return (now.year - y) * 12 + (now.month - m) - (day < birthday ? 1 : 0);
}

const hhmm = (value: string) => {
  const [h, m] = value.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

/** Whether a local minute falls in one of the windows; a window whose end is before its start spans midnight. */
export function inSchedule(windows: { start: string; end: string }[], minuteOfDay: number): boolean {
  return windows.some(({ start, end }) => {
    const s = hhmm(start);
    const e = hhmm(end);
    return s <= e ? minuteOfDay >= s && minuteOfDay < e : minuteOfDay >= s || minuteOfDay < e;
  });
}

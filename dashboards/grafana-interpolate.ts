/**
 * Grafana's substitution of InfluxQL macros and template variables, reproduced so tests can run a panel's
 * query exactly as Grafana would send it: `$timeFilter` as absolute ms bounds, `$__interval` rounded the
 * way Grafana rounds it (never below the panel's min interval), and variables formatted for a regex
 * (`(a|b)` for several values, the variable's allValue for All).
 */
export interface Range {
  from: number;
  to: number;
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export function parseInterval(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!match) throw new Error(`not a Grafana interval: ${JSON.stringify(text)}`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Grafana's rangeutil.roundInterval table: a raw interval snaps to the next "nice" one. */
const NICE: [below: number, interval: string][] = [
  [15, '10ms'],
  [35, '20ms'],
  [75, '50ms'],
  [150, '100ms'],
  [350, '200ms'],
  [750, '500ms'],
  [1_500, '1s'],
  [3_500, '2s'],
  [7_500, '5s'],
  [12_500, '10s'],
  [17_500, '15s'],
  [25_000, '20s'],
  [45_000, '30s'],
  [90_000, '1m'],
  [210_000, '2m'],
  [450_000, '5m'],
  [750_000, '10m'],
  [1_050_000, '15m'],
  [1_500_000, '20m'],
  [2_700_000, '30m'],
  [5_400_000, '1h'],
  [9_000_000, '2h'],
  [16_200_000, '3h'],
  [32_400_000, '6h'],
  [86_400_000, '12h'],
];

export function grafanaInterval(range: Range, maxDataPoints: number, minInterval?: string): string {
  const raw = (range.to - range.from) / maxDataPoints;
  const nice = NICE.find(([below]) => raw < below)?.[1] ?? '1d';
  if (minInterval && parseInterval(minInterval) > parseInterval(nice)) return minInterval;
  return nice;
}

/** A panel's relative time override (`7d`, `now/d`) replaces the dashboard range, ending now. */
export function panelRange(dashboard: Range, timeFrom: string | undefined): Range {
  if (!timeFrom) return dashboard;
  if (timeFrom === 'now/d') {
    const day = new Date(dashboard.to);
    day.setHours(0, 0, 0, 0);
    return { from: day.getTime(), to: dashboard.to };
  }
  return { from: dashboard.to - parseInterval(timeFrom), to: dashboard.to };
}

export interface VariableValue {
  values: string[];
  /** Set when the user picked All and the variable defines an allValue. */
  allValue?: string;
}

const escapeRegex = (value: string) => value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

function formatForRegex(value: VariableValue): string {
  if (value.allValue !== undefined) return value.allValue;
  const escaped = value.values.map(escapeRegex);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

export function interpolate(
  query: string,
  options: { range: Range; interval: string; variables: Record<string, VariableValue> },
): string {
  const intervalMs = parseInterval(options.interval);
  let out = query
    .replaceAll('$timeFilter', `time >= ${options.range.from}ms and time <= ${options.range.to}ms`)
    .replaceAll('$__interval_ms', String(intervalMs))
    .replaceAll('$__interval', options.interval);
  // Longest names first, so `$room` never eats the start of a `$roomType`.
  const names = Object.keys(options.variables).sort((a, b) => b.length - a.length);
  for (const name of names) {
    out = out.replace(new RegExp(`\\$(?:\\{${name}\\}|${name}\\b)`, 'g'), () =>
      formatForRegex(options.variables[name]!),
    );
  }
  const left = /\$(\w+)/.exec(out);
  if (left) throw new Error(`unsubstituted $${left[1]} in ${out}`);
  return out;
}

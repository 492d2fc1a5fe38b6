import { describe, expect, it } from 'vitest';
import { grafanaInterval, interpolate, panelRange, parseInterval } from './grafana-interpolate.ts';
import {
  agg,
  col,
  fieldEq,
  from,
  fromSubquery,
  ident,
  outer,
  ratePerSecond,
  str,
  tagVar,
  TIME_FILTER,
} from './influxql.ts';

describe('InfluxQL builder', () => {
  it('quotes identifiers, so keywords such as "by" and hyphenated fields are safe', () => {
    expect(ident('by')).toBe('"by"');
    expect(ident('invalid_clock-skew')).toBe('"invalid_clock-skew"');
    expect(ident('a"b')).toBe('"a\\"b"');
    expect(str("it's")).toBe("'it\\'s'");
  });

  it('writes select, where, group by, fill, order and limit in InfluxQL order', () => {
    const q = from('alert')
      .select(col('alert', 'by'), agg('alert', 'count', 'alert_id').as('n'))
      .where(TIME_FILTER, tagVar('alert', 'center', 'center'), fieldEq('alert', 'state', 'raised'))
      .byTime()
      .byTags('room')
      .fill(0)
      .orderByTime('DESC')
      .limit(5);
    expect(q.toString()).toBe(
      `SELECT "by", count("alert_id") AS "n" FROM "alert" WHERE $timeFilter AND "center" =~ /^$center$/ AND "state" = 'raised' GROUP BY time($__interval), "room" fill(0) ORDER BY time DESC LIMIT 5`,
    );
  });

  it('nests a subquery and a rate over a regex of fields', () => {
    const inner = from('pipeline')
      .select(ratePerSecond(agg('pipeline', 'last', /^invalid_/)))
      .where(TIME_FILTER)
      .byTags('instance');
    expect(inner.toString()).toBe(
      'SELECT non_negative_derivative(last(/^invalid_/), 1s) FROM "pipeline" WHERE $timeFilter GROUP BY "instance"',
    );
    expect(fromSubquery(inner).select(outer('sum', 'x')).toString()).toBe(`SELECT sum("x") FROM (${inner})`);
  });

  it('refuses a query that selects nothing', () => {
    expect(() => from('wearable').where(TIME_FILTER).toString()).toThrow(/selects nothing/);
  });
});

describe('Grafana substitution', () => {
  const range = { from: 1_000_000, to: 1_000_000 + 6 * 3_600_000 };

  it('formats variables for a regex: one value escaped, several as a group, All as its allValue', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} spelling, not a JS template
    const q = '"center" =~ /^$center$/ AND "room" =~ /^$room$/ AND "infant" =~ /^${infant}$/';
    const out = interpolate(q, {
      range,
      interval: '1m',
      variables: {
        center: { values: ['a.b'] },
        room: { values: ['r1', 'r2'] },
        infant: { values: [], allValue: '.*' },
      },
    });
    expect(out).toBe('"center" =~ /^a\\.b$/ AND "room" =~ /^(r1|r2)$/ AND "infant" =~ /^.*$/');
  });

  it('replaces $timeFilter with ms bounds and both interval macros', () => {
    expect(
      interpolate('WHERE $timeFilter GROUP BY time($__interval) -- $__interval_ms', {
        range,
        interval: '30s',
        variables: {},
      }),
    ).toBe(`WHERE time >= ${range.from}ms and time <= ${range.to}ms GROUP BY time(30s) -- 30000`);
  });

  it('fails on a variable the dashboard does not define', () => {
    expect(() => interpolate('"room" =~ /^$room$/', { range, interval: '1m', variables: {} })).toThrow(
      /\$room/,
    );
  });

  it('rounds the interval like Grafana and never goes below the panel minimum', () => {
    expect(grafanaInterval(range, 800)).toBe('30s');
    expect(grafanaInterval(range, 800, '1m')).toBe('1m');
    expect(grafanaInterval({ from: 0, to: 60_000 }, 1000, '10s')).toBe('10s');
    expect(() => parseInterval('soon')).toThrow(/not a Grafana interval/);
  });

  it("applies a panel's relative time override", () => {
    expect(panelRange(range, '7d')).toEqual({ from: range.to - 7 * 86_400_000, to: range.to });
    const today = panelRange(range, 'now/d');
    expect(new Date(today.from).getHours()).toBe(0);
    expect(today.to).toBe(range.to);
    expect(panelRange(range, undefined)).toBe(range);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { influxQl, type InfluxSeries } from '../lib/influx/query.ts';
import { freshInflux } from '../test/support/influx.ts';
import { SUPERVISOR_RULES } from './alert-rules.ts';
import { ANNOTATION_NEEDS, type Need } from './board.ts';
import { ALERTING_FILE, BUILD_DIR, DASHBOARDS_DIR, boards } from './build.ts';
import {
  type Range,
  type VariableValue,
  grafanaInterval,
  interpolate,
  panelRange,
} from './grafana-interpolate.ts';
import { INGEST_INSTANCE, SEED, type SeedResult, seedDashboardData } from '../test/support/dashboards.ts';

/** What Grafana stores and this test reads: the committed JSON, not the TypeScript. */
interface BuiltTarget {
  refId: string;
  query: string;
  datasource: { uid: string };
}
interface BuiltPanel {
  title: string;
  type: string;
  interval?: string;
  timeFrom?: string;
  maxDataPoints?: number;
  repeat?: string;
  targets?: BuiltTarget[];
}
interface BuiltVariable {
  name: string;
  query: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}
interface BuiltDashboard {
  uid: string;
  time: { from: string; to: string };
  panels: BuiltPanel[];
  templating: { list?: BuiltVariable[] };
  annotations: { list?: { name: string; target: BuiltTarget }[] };
}

const ALL_BOARDS = boards();
const built = (file: string): BuiltDashboard =>
  JSON.parse(readFileSync(join(DASHBOARDS_DIR, BUILD_DIR, file), 'utf8')) as BuiltDashboard;

/** A panel is a few hundred pixels wide: Grafana asks for about that many points. */
const MAX_DATA_POINTS = 800;

/** The selection a supervisor would make: one centre, the nap room where the dashboard wants one room. */
function variablesFor(dashboard: BuiltDashboard, repeatValue?: string): Record<string, VariableValue> {
  const picks: Record<string, string[]> = {
    center: [SEED.center],
    room: [SEED.napRoom],
    infant: repeatValue ? [repeatValue] : [...SEED.infants],
  };
  const out: Record<string, VariableValue> = {};
  for (const variable of dashboard.templating.list ?? []) {
    // Multi-value pickers are left on All, which exercises the allValue path (it must match missing tags).
    out[variable.name] =
      variable.includeAll && variable.allValue !== undefined && !repeatValue
        ? { values: [], allValue: variable.allValue }
        : { values: picks[variable.name] ?? [] };
  }
  return out;
}

function dashboardRange(dashboard: BuiltDashboard, now: number): Range {
  const match = /^now-(\d+)h$/.exec(dashboard.time.from);
  if (!match) throw new Error(`${dashboard.uid}: unexpected default range ${dashboard.time.from}`);
  return { from: now - Number(match[1]) * 3_600_000, to: now };
}

interface ProvisionedRule {
  uid: string;
  data: { refId: string; relativeTimeRange: { from: number }; model: Record<string, unknown> }[];
}

function provisionedRules(): ProvisionedRule[] {
  const file = parseYaml(readFileSync(join(DASHBOARDS_DIR, ALERTING_FILE), 'utf8')) as {
    groups: { rules: ProvisionedRule[] }[];
  };
  const rules = file.groups.flatMap((g) => g.rules);
  expect(rules.map((r) => r.uid).sort()).toEqual(SUPERVISOR_RULES.map((r) => r.uid).sort());
  return rules;
}

/** The rule's InfluxQL (refId A) over its relative time range ending now, as Grafana's evaluator sends it. */
function ruleQuery(rule: ProvisionedRule, now: number): string {
  const a = rule.data.find((d) => d.refId === 'A')!;
  const range = { from: now - a.relativeTimeRange.from * 1000, to: now };
  return interpolate(String(a.model.query), { range, interval: '1m', variables: {} });
}

async function run(conn: InfluxConnection, query: string): Promise<InfluxSeries[]> {
  const [result] = await influxQl(conn, query);
  return result?.series ?? [];
}

/** The panel's data as Grafana would get it: series whose columns and group tags the panel reads, not all empty. */
function assertServes(series: InfluxSeries[], need: Need, what: string): void {
  expect(series.length, `${what}: query returned no series`).toBeGreaterThan(0);
  for (const s of series) {
    for (const column of need.columns) expect(s.columns, `${what}: column ${column}`).toContain(column);
    if (need.columnsLike) {
      expect(
        s.columns.some((c) => need.columnsLike!.test(c)),
        `${what}: a column like ${need.columnsLike} in ${s.columns}`,
      ).toBe(true);
    }
    for (const tag of need.groupTags ?? [])
      expect(Object.keys(s.tags ?? {}), `${what}: tag ${tag}`).toContain(tag);
  }
  const wanted =
    need.columns.length > 0 ? need.columns : series[0]!.columns.filter((c) => need.columnsLike?.test(c));
  for (const column of wanted) {
    const filled = series.some((s) => s.values.some((row) => row[s.columns.indexOf(column)] != null));
    expect(filled, `${what}: column ${column} is null in every row`).toBe(true);
  }
}

describe('every dashboard query on a seeded InfluxDB (1.6 InfluxQL)', () => {
  let conn: InfluxConnection;
  let now: number;
  let seeded: SeedResult;

  beforeAll(async () => {
    conn = await freshInflux();
    seeded = await seedDashboardData(conn);
    now = Date.now();
  }, 50_000);

  it('the scenario went through the whole pipeline: readings, alerts, acknowledgements, refusals', () => {
    expect(seeded.readings).toBeGreaterThan(1_000);
    expect(seeded.acknowledged.length).toBeGreaterThanOrEqual(3);
    expect(seeded.confirmedChecks).toBe(SEED.infants.length);
    for (const kind of ['prone-sleep:raised', 'prone-sleep:acknowledged', 'one-key-alarm:escalated'])
      expect(seeded.transitions[kind], kind).toBeGreaterThan(0);
    for (const reason of ['not-json', 'schema', 'duplicate'])
      expect(seeded.refused[reason], `ingest refused ${reason}`).toBeGreaterThan(0);
  });

  for (const board of ALL_BOARDS) {
    describe(board.uid, () => {
      const dashboard = built(board.file);

      it('has a need for every panel and every query of the built JSON', () => {
        expect(dashboard.panels.length).toBeGreaterThan(0);
        for (const panel of dashboard.panels) {
          const needs = board.needs[panel.title];
          expect(needs, `${board.uid} panel "${panel.title}" has no needs entry`).toBeDefined();
          expect(Object.keys(needs!).sort()).toEqual((panel.targets ?? []).map((t) => t.refId).sort());
        }
      });

      for (const panel of dashboard.panels) {
        it(`panel "${panel.title}" gets the series and columns it shows`, async () => {
          const range = panelRange(dashboardRange(dashboard, now), panel.timeFrom);
          const interval = grafanaInterval(range, panel.maxDataPoints ?? MAX_DATA_POINTS, panel.interval);
          const repeats = panel.repeat ? [...SEED.infants] : [undefined];
          for (const value of repeats) {
            const variables = variablesFor(dashboard, value);
            for (const t of panel.targets ?? []) {
              const query = interpolate(t.query, { range, interval, variables });
              const need = board.needs[panel.title]![t.refId]!;
              assertServes(
                await run(conn, query),
                need,
                `${board.uid} "${panel.title}" ${t.refId} (${query})`,
              );
            }
          }
        });
      }

      it('template variable queries list the seeded values', async () => {
        const range = dashboardRange(dashboard, now);
        for (const variable of dashboard.templating.list ?? []) {
          const query = interpolate(variable.query, {
            range,
            interval: '1m',
            variables: variablesFor(dashboard),
          });
          const series = await run(conn, query);
          const values = series.flatMap((s) => s.values.map((row) => row[1]));
          expect(values.length, `${variable.name}: ${query}`).toBeGreaterThan(0);
        }
      });

      it('annotation queries return events with their text and tag columns', async () => {
        const range = dashboardRange(dashboard, now);
        for (const annotation of dashboard.annotations.list ?? []) {
          const query = interpolate(annotation.target.query, {
            range,
            interval: '1m',
            variables: variablesFor(dashboard),
          });
          assertServes(
            await run(conn, query),
            ANNOTATION_NEEDS[annotation.name]!,
            `annotation ${annotation.name}`,
          );
        }
      });
    });
  }

  it('supervisor alert rules: each provisioned query answers with the series its reduce and threshold read', async () => {
    for (const rule of provisionedRules()) {
      const need = SUPERVISOR_RULES.find((r) => r.uid === rule.uid)!.need;
      assertServes(await run(conn, ruleQuery(rule, now)), need, `alert rule ${rule.uid}`);
    }
  });

  it('supervisor alert rules fire for the seeded incidents and stay quiet otherwise', async () => {
    // Evaluated the moment the scenario's last reading was written, as Grafana would while data flows: the
    // seed waits up to half a minute more for the pipeline points, and a data-gap rule evaluated then
    // would see an empty last minute for every centre whenever a minute boundary fell in that wait.
    const [last] = await run(conn, 'SELECT last("seq") FROM wearable');
    const evalAt = Number(last!.values[0]![0]) + 1_000;
    // Grafana's reduce then threshold expressions, per series, on the provisioned query's answer.
    const firing: Record<string, string[]> = {};
    for (const rule of provisionedRules()) {
      const reduce = rule.data.find((d) => d.refId === 'B')!.model as {
        reducer: 'last' | 'max' | 'min' | 'sum';
      };
      const threshold = rule.data.find((d) => d.refId === 'C')!.model as {
        conditions: { evaluator: { type: 'gt' | 'lt'; params: [number] } }[];
      };
      const { type, params } = threshold.conditions[0]!.evaluator;
      firing[rule.uid] = [];
      for (const series of await run(conn, ruleQuery(rule, evalAt))) {
        const values = series.values.map((row) => row[1]).filter((v): v is number => typeof v === 'number');
        const reduced = {
          last: values.at(-1),
          max: Math.max(...values),
          min: Math.min(...values),
          sum: values.reduce((a, b) => a + b, 0),
        }[reduce.reducer]!;
        if (type === 'gt' ? reduced > params[0] : reduced < params[0]) {
          firing[rule.uid]!.push(Object.values(series.tags ?? {}).join(','));
        }
      }
    }
    expect(firing).toEqual({
      // c1: the alarm press left to escalate; c2: monitoring lost for the wearables switched off (critical).
      'cw-escalated-alerts': [SEED.center, 'c2'],
      'cw-centre-data-gap': ['c2'],
      'cw-devices-offline': ['c2'],
      // The scenario is fifteen minutes replayed in fifteen seconds: ingest truly wrote readings minutes after
      // their device time, which is what this rule watches for.
      'cw-ingest-lag': [INGEST_INSTANCE],
      'cw-ingest-spooling': [],
    });
  });
});

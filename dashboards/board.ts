import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  AnnotationQueryBuilder,
  type DashboardBuilder,
  type DataTransformerConfig,
  type Panel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { col, from, tagVar, TIME_FILTER } from './influxql.ts';
import { COLORS, DATASOURCE, NAP_MAPPING, target } from './style.ts';

/**
 * What one query of a panel must return for the panel to show anything: columns (fields and selected
 * tags, by name or alias) and the tags the series are grouped by. The query test checks every panel's
 * every query against this on a seeded InfluxDB.
 */
export interface Need {
  columns: string[];
  /** For regex selections (`/^invalid_/`): at least one column must match. */
  columnsLike?: RegExp;
  groupTags?: string[];
}

export interface Board {
  uid: string;
  /** File name under dashboards/build/. */
  file: string;
  dashboard: DashboardBuilder;
  /** Panel title → refId → need. A panel of the built JSON with no entry here fails the test. */
  needs: Record<string, Record<string, Need>>;
  /** What each panel answers for a supervisor, for README.md. */
  questions: Record<string, string>;
}

/** A panel and what it needs, so a board lists each panel once. */
export interface PanelSpec {
  panel: cog.Builder<Panel>;
  title: string;
  question: string;
  needs: Record<string, Need>;
}

export function assemble(uid: string, file: string, dashboard: DashboardBuilder, panels: PanelSpec[]): Board {
  const needs: Board['needs'] = {};
  const questions: Board['questions'] = {};
  for (const spec of panels) {
    if (needs[spec.title]) throw new Error(`${uid}: two panels are titled ${spec.title}`);
    dashboard.withPanel(spec.panel);
    needs[spec.title] = spec.needs;
    questions[spec.title] = spec.question;
  }
  return { uid, file, dashboard, needs, questions };
}

/** The `alert` transitions as raw rows, newest last, so transformations can fold them per alert id. */
export const alertRows = (room: boolean) =>
  from('alert')
    .select(
      col('alert', 'alert_id'),
      col('alert', 'center'),
      col('alert', 'room'),
      col('alert', 'rule'),
      col('alert', 'severity'),
      col('alert', 'state'),
      col('alert', 'subject'),
      col('alert', 'message'),
      col('alert', 'by'),
    )
    .where(
      TIME_FILTER,
      tagVar('alert', 'center', 'center'),
      ...(room ? [tagVar('alert', 'room', 'room')] : []),
    );

export const ALERT_ROW_COLUMNS = [
  'alert_id',
  'center',
  'room',
  'rule',
  'severity',
  'state',
  'subject',
  'message',
  'by',
];

/**
 * InfluxQL cannot group by a field, and `alert_id` is a field: Grafana folds the transitions per alert id
 * (last state and severity: a warning left alone becomes critical) and keeps those not resolved.
 */
export const OPEN_ALERT_TRANSFORMS: DataTransformerConfig[] = [
  {
    id: 'groupBy',
    options: {
      fields: {
        alert_id: { operation: 'groupby', aggregations: [] },
        Time: { operation: 'aggregate', aggregations: ['first'] },
        center: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        room: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        rule: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        severity: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        state: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        subject: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        message: { operation: 'aggregate', aggregations: ['lastNotNull'] },
        by: { operation: 'aggregate', aggregations: ['lastNotNull'] },
      },
    },
  },
  {
    id: 'filterByValue',
    options: {
      type: 'exclude',
      match: 'any',
      filters: [
        { fieldName: 'state (lastNotNull)', config: { id: 'equal', options: { value: 'resolved' } } },
      ],
    },
  },
  {
    id: 'organize',
    options: {
      renameByName: {
        'Time (first)': 'raised',
        'center (lastNotNull)': 'centre',
        'room (lastNotNull)': 'room',
        'rule (lastNotNull)': 'rule',
        'severity (lastNotNull)': 'severity',
        'state (lastNotNull)': 'state',
        'subject (lastNotNull)': 'subject',
        'message (lastNotNull)': 'message',
        'by (lastNotNull)': 'acknowledged by',
      },
    },
  },
];

/** Alert transitions and nap starts/ends as annotations on every time series of a centre or room. */
export function annotations(room: boolean): AnnotationQueryBuilder[] {
  const roomFilter = room ? [tagVar('alert', 'room', 'room')] : [];
  const alerts = from('alert')
    .select(col('alert', 'message'), col('alert', 'state'), col('alert', 'severity'), col('alert', 'rule'))
    .where(TIME_FILTER, tagVar('alert', 'center', 'center'), ...roomFilter);
  const naps = from('nap_session')
    .select(col('nap_session', 'state'), col('nap_session', 'room'), col('nap_session', 'by'))
    .where(TIME_FILTER, tagVar('nap_session', 'center', 'center'), ...roomFilter);
  return [
    new AnnotationQueryBuilder()
      .name('Alert transitions')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor(COLORS.critical)
      .target(target(alerts, 'Anno').annotation('message', ['state', 'severity', 'rule'])),
    new AnnotationQueryBuilder()
      .name('Nap sessions')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor(NAP_MAPPING.options.started!.color!)
      .target(target(naps, 'Anno').annotation('state', ['room', 'by'])),
  ];
}

/** What the query test checks for the annotation queries (same shape as panel needs). */
export const ANNOTATION_NEEDS: Record<string, Need> = {
  'Alert transitions': { columns: ['message', 'state', 'severity', 'rule'] },
  'Nap sessions': { columns: ['state', 'room', 'by'] },
};

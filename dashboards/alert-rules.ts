import {
  QueryBuilder,
  RuleBuilder,
  RuleGroupBuilder,
  type Rule,
} from '@grafana/grafana-foundation-sdk/alerting';
import { TypeReduceBuilder, TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
import type { Need } from './board.ts';
import { agg, fieldEq, from, fromSubquery, outer, type Query, tagEq, TIME_FILTER } from './influxql.ts';
import {
  DASHBOARD_UIDS,
  DATASOURCE_UID,
  FOLDER_TITLE,
  FOLDER_UID,
  STATUS_LOOKBACK_S,
  target,
} from './style.ts';

/**
 * Grafana-managed alert rules for supervisors. They watch the system, not the infants: the rules service
 * already alerts caregivers within seconds; these say that a centre's alerting is failing or stalling.
 */
interface SupervisorRule {
  uid: string;
  title: string;
  query: Query;
  /** Seconds back from now the query looks. */
  lookbackS: number;
  reducer: 'last' | 'max' | 'min' | 'sum';
  fireWhen: { type: 'gt' | 'lt'; value: number };
  forDuration: string;
  noData: 'OK' | 'Alerting' | 'NoData';
  severity: 'critical' | 'warning' | 'info';
  summary: string;
  dashboard: string;
  need: Need;
}

export const RULE_GROUP = 'cradlewatch-supervisors';
const EXPR_UID = '__expr__';

export const SUPERVISOR_RULES: SupervisorRule[] = [
  {
    uid: 'cw-escalated-alerts',
    title: 'Alerts escalated to supervisors',
    query: from('alert')
      .select(agg('alert', 'count', 'alert_id').as('escalated'))
      .where(TIME_FILTER, fieldEq('alert', 'state', 'escalated'))
      .byTags('center'),
    lookbackS: 300,
    reducer: 'last',
    fireWhen: { type: 'gt', value: 0 },
    forDuration: '0s',
    noData: 'OK',
    severity: 'critical',
    summary:
      'Centre {{ $labels.center }}: {{ $values.B }} alert(s) went unacknowledged and escalated in 5 min.',
    dashboard: DASHBOARD_UIDS.centre,
    need: { columns: ['escalated'], groupTags: ['center'] },
  },
  {
    uid: 'cw-centre-data-gap',
    title: 'Centre stopped sending wearable data',
    query: from('wearable')
      .select(agg('wearable', 'count', 'seq').as('readings'))
      .where(TIME_FILTER)
      .byTime('1m')
      .byTags('center')
      .fill(0),
    lookbackS: 900,
    reducer: 'last',
    fireWhen: { type: 'lt', value: 1 },
    forDuration: '3m',
    noData: 'Alerting',
    severity: 'critical',
    summary:
      'Centre {{ $labels.center }} has sent no wearable readings for 3 min: infants may be unmonitored.',
    dashboard: DASHBOARD_UIDS.city,
    need: { columns: ['readings'], groupTags: ['center'] },
  },
  {
    uid: 'cw-devices-offline',
    title: 'Many devices offline in a centre',
    query: fromSubquery(
      from('device_status')
        .select(agg('device_status', 'last', 'online').as('online'))
        .where(TIME_FILTER)
        .byTags('center', 'device'),
    )
      .select(outer('mean', 'online').times(100).as('online_percent'))
      .where(TIME_FILTER)
      .byTags('center'),
    lookbackS: STATUS_LOOKBACK_S,
    reducer: 'last',
    fireWhen: { type: 'lt', value: 80 },
    forDuration: '5m',
    noData: 'OK',
    severity: 'warning',
    summary: 'Centre {{ $labels.center }}: only {{ $values.B }} % of its devices are online.',
    dashboard: DASHBOARD_UIDS.devices,
    need: { columns: ['online_percent'], groupTags: ['center'] },
  },
  {
    uid: 'cw-ingest-lag',
    title: 'Ingest falling behind',
    query: from('pipeline')
      .select(agg('pipeline', 'max', 'lag_ms').as('lag_ms'))
      .where(TIME_FILTER, tagEq('pipeline', 'service', 'ingest'))
      .byTags('instance'),
    lookbackS: 300,
    reducer: 'max',
    fireWhen: { type: 'gt', value: 60_000 },
    forDuration: '5m',
    noData: 'Alerting',
    severity: 'warning',
    summary: 'Ingest {{ $labels.instance }} writes data {{ $values.B }} ms after the devices sent it.',
    dashboard: DASHBOARD_UIDS.pipeline,
    need: { columns: ['lag_ms'], groupTags: ['instance'] },
  },
  {
    uid: 'cw-ingest-spooling',
    title: 'Ingest spooling to disk',
    query: from('pipeline')
      .select(agg('pipeline', 'last', 'spool_bytes').as('spool_bytes'))
      .where(TIME_FILTER, tagEq('pipeline', 'service', 'ingest'))
      .byTags('instance'),
    lookbackS: 300,
    reducer: 'last',
    fireWhen: { type: 'gt', value: 0 },
    forDuration: '2m',
    noData: 'OK',
    severity: 'warning',
    summary:
      'Ingest {{ $labels.instance }} cannot write to InfluxDB and holds {{ $values.B }} bytes on disk.',
    dashboard: DASHBOARD_UIDS.pipeline,
    need: { columns: ['spool_bytes'], groupTags: ['instance'] },
  },
];

function buildRule(rule: SupervisorRule): Rule {
  return new RuleBuilder(rule.title)
    .uid(rule.uid)
    .folderUID(FOLDER_UID)
    .ruleGroup(RULE_GROUP)
    .orgID(1)
    .condition('C')
    .withQuery(
      new QueryBuilder('A')
        .datasourceUid(DATASOURCE_UID)
        .relativeTimeRange({ from: rule.lookbackS, to: 0 })
        .model(target(rule.query, 'A')),
    )
    .withQuery(
      new QueryBuilder('B')
        .datasourceUid(EXPR_UID)
        .relativeTimeRange({ from: 0, to: 0 })
        .model(
          new TypeReduceBuilder()
            .refId('B')
            .expression('A')
            .reducer(rule.reducer)
            .datasource({ type: EXPR_UID, uid: EXPR_UID }),
        ),
    )
    .withQuery(
      new QueryBuilder('C')
        .datasourceUid(EXPR_UID)
        .relativeTimeRange({ from: 0, to: 0 })
        .model(
          new TypeThresholdBuilder()
            .refId('C')
            .expression('B')
            .conditions([{ evaluator: { type: rule.fireWhen.type, params: [rule.fireWhen.value] } }])
            .datasource({ type: EXPR_UID, uid: EXPR_UID }),
        ),
    )
    .forDuration(rule.forDuration)
    .noDataState(rule.noData)
    .execErrState('Error')
    .labels({ team: 'supervisors', severity: rule.severity })
    .annotations({ summary: rule.summary, __dashboardUid__: rule.dashboard })
    .build();
}

/**
 * Grafana's file provisioning format for alert rules (`apiVersion: 1`, `groups:`), which names the folder
 * by title and takes the group's interval as a duration string, unlike the API model the SDK builds.
 */
export function alertProvisioning(): Record<string, unknown> {
  const group = new RuleGroupBuilder(RULE_GROUP)
    .folderUid(FOLDER_UID)
    .interval(60)
    .rules(SUPERVISOR_RULES.map((rule) => ({ build: () => buildRule(rule) })))
    .build();
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: group.title,
        folder: FOLDER_TITLE,
        interval: `${group.interval}s`,
        rules: (group.rules ?? []).map(({ folderUID: _f, ruleGroup: _g, orgID: _o, ...rule }) => rule),
      },
    ],
  };
}

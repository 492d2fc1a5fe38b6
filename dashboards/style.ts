import type * as common from '@grafana/grafana-foundation-sdk/common';
import {
  type DashboardLink,
  DashboardLinkBuilder,
  DashboardLinkType,
  MappingType,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMap,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { InfluxQlTargetBuilder, type Query, showTagValues, tagVar } from './influxql.ts';

/** The one provisioned datasource every panel, variable, annotation and alert rule points at. */
export const DATASOURCE_UID = 'cradlewatch-influxdb';
export const DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID };
export const FOLDER_UID = 'cradlewatch';
export const FOLDER_TITLE = 'Cradlewatch';

/** The caregiver page's colours (rules/web/style.css), so a supervisor reads severity the same way. */
export const COLORS = {
  critical: '#b3001b',
  warning: '#8a4500',
  info: '#0b4f8a',
  ok: '#1d6b35',
  muted: '#4a5360',
} as const;

export const SEVERITY_MAPPING: ValueMap = {
  type: MappingType.ValueToText,
  options: {
    critical: { color: COLORS.critical, index: 0, text: 'critical' },
    warning: { color: COLORS.warning, index: 1, text: 'warning' },
    info: { color: COLORS.info, index: 2, text: 'info' },
  },
};

export const ALERT_STATE_MAPPING: ValueMap = {
  type: MappingType.ValueToText,
  options: {
    raised: { color: COLORS.critical, index: 0, text: 'raised' },
    escalated: { color: COLORS.critical, index: 1, text: 'escalated' },
    acknowledged: { color: COLORS.warning, index: 2, text: 'acknowledged' },
    resolved: { color: COLORS.ok, index: 3, text: 'resolved' },
  },
};

export const POSTURE_MAPPING: ValueMap = {
  type: MappingType.ValueToText,
  options: {
    supine: { color: COLORS.ok, index: 0, text: 'back' },
    side: { color: COLORS.warning, index: 1, text: 'side' },
    prone: { color: COLORS.critical, index: 2, text: 'front (prone)' },
    upright: { color: COLORS.info, index: 3, text: 'upright' },
    unknown: { color: COLORS.muted, index: 4, text: 'unknown / off' },
  },
};

export const ONLINE_MAPPING: ValueMap = {
  type: MappingType.ValueToText,
  options: {
    '1': { color: COLORS.ok, index: 0, text: 'online' },
    '0': { color: COLORS.critical, index: 1, text: 'offline' },
  },
};

export const NAP_MAPPING: ValueMap = {
  type: MappingType.ValueToText,
  options: {
    started: { color: COLORS.info, index: 0, text: 'napping' },
    ended: { color: 'transparent', index: 1, text: 'awake' },
  },
};

type Step = [value: number | null, color: string];
/** Absolute thresholds from the lowest band up; the first step is the base colour. */
export const thresholds = (...steps: Step[]): ThresholdsConfigBuilder =>
  new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));

/** Green inside [low, high], amber outside: the room bands of docs/design.md's rules. */
export const band = (low: number, high: number): ThresholdsConfigBuilder =>
  thresholds([null, COLORS.warning], [low, COLORS.ok], [high, COLORS.warning]);

export const target = (query: Query | string, refId = 'A'): InfluxQlTargetBuilder =>
  new InfluxQlTargetBuilder(DATASOURCE, query, refId);

/**
 * "All" as a regex that also matches a missing tag: an alert about a device has no room tag and must still
 * show under every room.
 */
export const ALL = '.*';

/** Centre and room pickers; each dashboard takes the ones it needs. */
export const centerVariable = (multi: boolean): QueryVariableBuilder =>
  new QueryVariableBuilder('center')
    .label('Centre')
    .datasource(DATASOURCE)
    .query(showTagValues('device_status', 'center'))
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi)
    .allValue(ALL);

export const roomVariable = (multi: boolean): QueryVariableBuilder =>
  new QueryVariableBuilder('room')
    .label('Room')
    .datasource(DATASOURCE)
    .query(showTagValues('device_status', 'room', tagVar('device_status', 'center', 'center')))
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi)
    .allValue(ALL);

/** Open alerts reach back a week: an alert raised before the chosen range may still be open. */
export const OPEN_ALERT_LOOKBACK = '7d';
/**
 * A device publishes its status on connect (retained) and its last will on loss, so a healthy device's last
 * status point can be weeks old: panels about "which devices exist and are they online" look back this far.
 */
export const STATUS_LOOKBACK = '30d';
export const STATUS_LOOKBACK_S = 30 * 86_400;

export const DASHBOARD_UIDS = {
  city: 'cw-city',
  centre: 'cw-centre',
  napRoom: 'cw-nap-room',
  devices: 'cw-devices',
  pipeline: 'cw-pipeline',
} as const;

/** Every dashboard links to the others, keeping the chosen centre, room and time range. */
export const crossLinks = (): DashboardLinkBuilder[] => [
  new DashboardLinkBuilder('Cradlewatch')
    .type(DashboardLinkType.Dashboards)
    .tags(['cradlewatch'])
    .asDropdown(false)
    .includeVars(true)
    .keepTime(true),
];

export type { DashboardLink };

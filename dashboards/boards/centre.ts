import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
} from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import {
  ALERT_ROW_COLUMNS,
  type Board,
  OPEN_ALERT_TRANSFORMS,
  alertRows,
  annotations,
  assemble,
} from '../board.ts';
import { agg, col, from, tagVar, TIME_FILTER } from '../influxql.ts';
import {
  ALERT_STATE_MAPPING,
  DASHBOARD_UIDS,
  NAP_MAPPING,
  OPEN_ALERT_LOOKBACK,
  SEVERITY_MAPPING,
  band,
  centerVariable,
  crossLinks,
  roomVariable,
  target,
} from '../style.ts';

/** docs/design.md's rule bands: the room-hot/cold and humidity rules fire outside these. */
export const TEMP_BAND = [16, 24] as const;
export const HUMIDITY_BAND = [30, 60] as const;

const roomEnv = (field: 'temp' | 'humidity') =>
  from('room_env')
    .select(agg('room_env', 'mean', field).as(field))
    .where(TIME_FILTER, tagVar('room_env', 'center', 'center'), tagVar('room_env', 'room', 'room'))
    .byTime()
    .byTags('room')
    .fill('null');

const napSessions = from('nap_session')
  .select(agg('nap_session', 'last', 'state').as('state'))
  .where(TIME_FILTER, tagVar('nap_session', 'center', 'center'), tagVar('nap_session', 'room', 'room'))
  .byTime()
  .byTags('room')
  .fill('previous');

const transitions = from('alert')
  .select(
    col('alert', 'room'),
    col('alert', 'rule'),
    col('alert', 'severity'),
    col('alert', 'state'),
    col('alert', 'subject'),
    col('alert', 'message'),
    col('alert', 'by'),
  )
  .where(TIME_FILTER, tagVar('alert', 'center', 'center'), tagVar('alert', 'room', 'room'))
  .orderByTime('DESC')
  .limit(500);

const bandPanel = (title: string, field: 'temp' | 'humidity', unit: string, [low, high]: readonly number[]) =>
  new timeseries.PanelBuilder()
    .title(title)
    .description(`Green band ${low}–${high}: outside it the room rules raise an alert after their hold time.`)
    .withTarget(target(roomEnv(field)).alias('$tag_room'))
    .interval('1m')
    .unit(unit)
    .thresholds(band(low!, high!))
    .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.LineAndArea))
    .height(9)
    .span(12);

export function centreBoard(): Board {
  const dashboard = new DashboardBuilder('Cradlewatch · Centre')
    .uid(DASHBOARD_UIDS.centre)
    .tags(['cradlewatch', 'supervisor'])
    .description('One centre: room climate against its bands, open alerts, alert history and nap sessions.')
    .refresh('30s')
    .time({ from: 'now-12h', to: 'now' })
    .timezone('browser')
    .withVariable(centerVariable(false))
    .withVariable(roomVariable(true))
    .annotations(annotations(false))
    .links(crossLinks());

  return assemble(DASHBOARD_UIDS.centre, 'centre.json', dashboard, [
    {
      title: 'Room temperature',
      question: 'Which rooms were too warm or too cold, and when (alerts and naps marked)?',
      panel: bandPanel('Room temperature', 'temp', 'celsius', TEMP_BAND),
      needs: { A: { columns: ['temp'], groupTags: ['room'] } },
    },
    {
      title: 'Room humidity',
      question: 'Which rooms were too dry or too humid, and when?',
      panel: bandPanel('Room humidity', 'humidity', 'percent', HUMIDITY_BAND),
      needs: { A: { columns: ['humidity'], groupTags: ['room'] } },
    },
    {
      title: 'Nap sessions',
      question: 'Which rooms were napping when, so sleep alerts can be read in context?',
      panel: new statetimeline.PanelBuilder()
        .title('Nap sessions')
        .withTarget(target(napSessions).alias('$tag_room'))
        .interval('1m')
        .mappings([NAP_MAPPING])
        .height(6)
        .span(24),
      needs: { A: { columns: ['state'], groupTags: ['room'] } },
    },
    {
      title: 'Open alerts',
      question: 'What is open in this centre right now, and who has acknowledged it?',
      panel: new table.PanelBuilder()
        .title('Open alerts')
        .withTarget(target(alertRows(true)).table())
        .timeFrom(OPEN_ALERT_LOOKBACK)
        .transformations(OPEN_ALERT_TRANSFORMS)
        .overrideByName('severity', [
          { id: 'mappings', value: [SEVERITY_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .overrideByName('state', [
          { id: 'mappings', value: [ALERT_STATE_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .height(8)
        .span(24),
      needs: { A: { columns: ALERT_ROW_COLUMNS } },
    },
    {
      title: 'Alert transitions',
      question:
        'What happened to each alert in the range: raised, acknowledged by whom, escalated, resolved?',
      panel: new table.PanelBuilder()
        .title('Alert transitions')
        .withTarget(target(transitions).table())
        .overrideByName('severity', [
          { id: 'mappings', value: [SEVERITY_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .overrideByName('state', [{ id: 'mappings', value: [ALERT_STATE_MAPPING] }])
        .height(10)
        .span(24),
      needs: { A: { columns: ['room', 'rule', 'severity', 'state', 'subject', 'message', 'by'] } },
    },
  ]);
}

import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { type Board, alertRows, ALERT_ROW_COLUMNS, annotations, assemble } from '../board.ts';
import { agg, col, from, showTagValues, tagVar, TIME_FILTER } from '../influxql.ts';
import {
  ALL,
  ALERT_STATE_MAPPING,
  COLORS,
  DASHBOARD_UIDS,
  DATASOURCE,
  POSTURE_MAPPING,
  SEVERITY_MAPPING,
  centerVariable,
  crossLinks,
  roomVariable,
  target,
  thresholds,
} from '../style.ts';

/** docs/design.md: the skin-temperature rule compares with the infant's own baseline; +1.0 °C is its threshold. */
const SKIN_RISE_C = 1;
const BASELINE_WINDOW = '15m';
/** docs/design.md's no-movement threshold. */
const STILL_MOTION = 0.02;

const infantVariable = new QueryVariableBuilder('infant')
  .label('Infant')
  .datasource(DATASOURCE)
  .query(
    showTagValues(
      'wearable',
      'infant',
      tagVar('wearable', 'center', 'center'),
      tagVar('wearable', 'room', 'room'),
    ),
  )
  .refresh(VariableRefresh.OnTimeRangeChanged)
  .sort(VariableSort.AlphabeticalAsc)
  .multi(true)
  .includeAll(true)
  .allValue(ALL);

const inRoom = [
  TIME_FILTER,
  tagVar('wearable', 'center', 'center'),
  tagVar('wearable', 'room', 'room'),
  tagVar('wearable', 'infant', 'infant'),
];

const posture = from('wearable')
  .select(agg('wearable', 'last', 'posture').as('posture'))
  .where(...inRoom)
  .byTime()
  .byTags('infant')
  .fill('none');

const motion = from('wearable')
  .select(agg('wearable', 'mean', 'motion').as('motion'))
  .where(...inRoom)
  .byTime()
  .byTags('infant')
  .fill('null');

const skinTemp = from('wearable')
  .select(agg('wearable', 'mean', 'skin_temp').as('skin temperature'))
  .where(...inRoom)
  .byTime()
  .byTags('infant')
  .fill('null');

/** A rolling median is steadier than the mean against a patch lifting for a moment. */
const baseline = from('wearable')
  .select(
    agg('wearable', 'median', 'skin_temp').as('baseline'),
    agg('wearable', 'median', 'skin_temp').plus(SKIN_RISE_C).as(`baseline +${SKIN_RISE_C} °C`),
  )
  .where(...inRoom)
  .byTime(BASELINE_WINDOW)
  .byTags('infant')
  .fill('previous');

const napChecks = from('nap_check')
  .select(
    col('nap_check', 'infant'),
    col('nap_check', 'posture'),
    col('nap_check', 'motion'),
    col('nap_check', 'skin_temp'),
    col('nap_check', 'open_alerts'),
    col('nap_check', 'confirmed_by'),
  )
  .where(
    TIME_FILTER,
    tagVar('nap_check', 'center', 'center'),
    tagVar('nap_check', 'room', 'room'),
    tagVar('nap_check', 'infant', 'infant'),
  )
  .orderByTime('DESC')
  .limit(1000);

export function napRoomBoard(): Board {
  const dashboard = new DashboardBuilder('Cradlewatch · Nap room')
    .uid(DASHBOARD_UIDS.napRoom)
    .tags(['cradlewatch', 'supervisor'])
    .description('One nap room, infant by infant: posture, movement, skin temperature, nap checks, alerts.')
    .refresh('10s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .withVariable(centerVariable(false))
    .withVariable(roomVariable(false))
    .withVariable(infantVariable)
    .annotations(annotations(true))
    .links(crossLinks());

  return assemble(DASHBOARD_UIDS.napRoom, 'nap-room.json', dashboard, [
    {
      title: 'Posture',
      question: 'Which infant lay on their front or side, and for how long?',
      panel: new statetimeline.PanelBuilder()
        .title('Posture')
        .withTarget(target(posture).alias('$tag_infant'))
        .interval('10s')
        .mappings([POSTURE_MAPPING])
        .height(8)
        .span(24),
      needs: { A: { columns: ['posture'], groupTags: ['infant'] } },
    },
    {
      title: 'Motion',
      question: 'Was any infant still for longer than is safe?',
      panel: new timeseries.PanelBuilder()
        .title('Motion')
        .description(`Activity index 0–1; below ${STILL_MOTION} counts as no movement.`)
        .withTarget(target(motion).alias('$tag_infant'))
        .interval('10s')
        .unit('none')
        .min(0)
        .max(1)
        .thresholds(thresholds([null, COLORS.critical], [STILL_MOTION, 'transparent']))
        .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Area))
        .height(8)
        .span(24),
      needs: { A: { columns: ['motion'], groupTags: ['infant'] } },
    },
    {
      title: 'Skin temperature · $infant',
      question:
        "Is this infant's skin temperature rising above their own baseline (time for a proper reading)?",
      panel: new timeseries.PanelBuilder()
        .title('Skin temperature · $infant')
        .description(
          `Baseline: rolling ${BASELINE_WINDOW} median; the rule warns at +${SKIN_RISE_C} °C or 38 °C held 5 min. A skin sensor is no thermometer.`,
        )
        .withTarget(target(skinTemp, 'A').alias('skin temperature'))
        .withTarget(target(baseline, 'B').alias('$col'))
        .repeat('infant')
        .maxPerRow(2)
        .interval('10s')
        .unit('celsius')
        .overrideByName('baseline', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }])
        .overrideByName(`baseline +${SKIN_RISE_C} °C`, [
          { id: 'color', value: { mode: 'fixed', fixedColor: COLORS.warning } },
          { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 6] } },
        ])
        .height(8)
        .span(12),
      needs: {
        A: { columns: ['skin temperature'], groupTags: ['infant'] },
        B: { columns: ['baseline', `baseline +${SKIN_RISE_C} °C`], groupTags: ['infant'] },
      },
    },
    {
      title: 'Nap-check log',
      question: 'Were the nap checks made on time, what did they record, and who confirmed them?',
      panel: new table.PanelBuilder()
        .title('Nap-check log')
        .withTarget(target(napChecks).table())
        .overrideByName('posture', [
          { id: 'mappings', value: [POSTURE_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .overrideByName('skin_temp', [{ id: 'unit', value: 'celsius' }])
        .overrideByName('open_alerts', [
          { id: 'thresholds', value: thresholds([null, COLORS.ok], [1, COLORS.critical]).build() },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .height(10)
        .span(12),
      needs: { A: { columns: ['infant', 'posture', 'motion', 'skin_temp', 'open_alerts', 'confirmed_by'] } },
    },
    {
      title: 'Alerts in this room',
      question: 'Which alerts did this room have, and how were they handled?',
      panel: new table.PanelBuilder()
        .title('Alerts in this room')
        .withTarget(target(alertRows(true)).table())
        .overrideByName('severity', [
          { id: 'mappings', value: [SEVERITY_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .overrideByName('state', [{ id: 'mappings', value: [ALERT_STATE_MAPPING] }])
        .height(10)
        .span(12),
      needs: { A: { columns: ALERT_ROW_COLUMNS } },
    },
  ]);
}

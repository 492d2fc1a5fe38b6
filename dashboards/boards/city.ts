import {
  BarGaugeDisplayMode,
  BigValueColorMode,
  ReduceDataOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statushistory from '@grafana/grafana-foundation-sdk/statushistory';
import * as table from '@grafana/grafana-foundation-sdk/table';
import { ALERT_ROW_COLUMNS, type Board, OPEN_ALERT_TRANSFORMS, alertRows, assemble } from '../board.ts';
import { agg, fieldEq, from, fromSubquery, outer, percentile, tagVar, TIME_FILTER } from '../influxql.ts';
import {
  COLORS,
  DASHBOARD_UIDS,
  OPEN_ALERT_LOOKBACK,
  SEVERITY_MAPPING,
  STATUS_LOOKBACK,
  centerVariable,
  crossLinks,
  target,
  thresholds,
} from '../style.ts';

const onlineByCentre = fromSubquery(
  from('device_status')
    .select(agg('device_status', 'last', 'online').as('online'))
    .where(TIME_FILTER, tagVar('device_status', 'center', 'center'))
    .byTags('center', 'device'),
)
  .select(outer('sum', 'online').as('online'), outer('count', 'online').as('expected'))
  .where(TIME_FILTER)
  .byTags('center');

const alarmsToday = from('alarm')
  .select(agg('alarm', 'count', 'seq').as('alarms'))
  .where(TIME_FILTER, tagVar('alarm', 'center', 'center'))
  .byTags('center');

const timeToAck = from('alert')
  .select(
    agg('alert', 'median', 'ack_ms').div(1000).as('median'),
    percentile('alert', 'ack_ms', 90).div(1000).as('p90'),
  )
  .where(TIME_FILTER, tagVar('alert', 'center', 'center'), fieldEq('alert', 'state', 'acknowledged'))
  .byTags('center');

const coverage = from('wearable')
  .select(agg('wearable', 'count', 'seq').as('readings'))
  .where(TIME_FILTER, tagVar('wearable', 'center', 'center'))
  .byTime()
  .byTags('center')
  .fill(0);

export function cityBoard(): Board {
  const dashboard = new DashboardBuilder('Cradlewatch · City overview')
    .uid(DASHBOARD_UIDS.city)
    .tags(['cradlewatch', 'supervisor'])
    .description(
      'Every centre at a glance: devices online, open alerts, alarms, acknowledgement times, data gaps.',
    )
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser')
    .withVariable(centerVariable(true))
    .links(crossLinks());

  return assemble(DASHBOARD_UIDS.city, 'city.json', dashboard, [
    {
      title: 'Open alerts by severity',
      question: 'How many alerts are open right now across the city, and how many of them are critical?',
      panel: new bargauge.PanelBuilder()
        .title('Open alerts by severity')
        .description(
          `Alerts raised in the last ${OPEN_ALERT_LOOKBACK} whose last transition is not resolved.`,
        )
        .withTarget(target(alertRows(false)).table())
        .timeFrom(OPEN_ALERT_LOOKBACK)
        .transformations([
          ...OPEN_ALERT_TRANSFORMS,
          {
            id: 'groupBy',
            options: {
              fields: {
                severity: { operation: 'groupby', aggregations: [] },
                alert_id: { operation: 'aggregate', aggregations: ['count'] },
              },
            },
          },
          {
            id: 'rowsToFields',
            options: { mappings: [{ fieldName: 'severity', handlerKey: 'field.name' }] },
          },
        ])
        .overrideByName('critical', [{ id: 'color', value: { mode: 'fixed', fixedColor: COLORS.critical } }])
        .overrideByName('warning', [{ id: 'color', value: { mode: 'fixed', fixedColor: COLORS.warning } }])
        .overrideByName('info', [{ id: 'color', value: { mode: 'fixed', fixedColor: COLORS.info } }])
        .displayMode(BarGaugeDisplayMode.Basic)
        .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(['lastNotNull']))
        .unit('none')
        .noValue('0')
        .height(7)
        .span(8),
      needs: { A: { columns: ALERT_ROW_COLUMNS } },
    },
    {
      title: 'Devices online / expected',
      question: 'In which centre are devices offline, so infants may be unmonitored?',
      panel: new table.PanelBuilder()
        .title('Devices online / expected')
        .description(
          `Per centre: devices whose last status says online, out of the devices that reported a status in the last ${STATUS_LOOKBACK}.`,
        )
        .withTarget(target(onlineByCentre).table())
        .timeFrom(STATUS_LOOKBACK)
        .transformations([
          {
            id: 'calculateField',
            options: {
              mode: 'binary',
              alias: 'online %',
              binary: { left: 'online', operator: '/', right: 'expected' },
              replaceFields: false,
            },
          },
          { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { center: 'centre' } } },
        ])
        .overrideByName('online %', [
          { id: 'unit', value: 'percentunit' },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
          {
            id: 'thresholds',
            value: thresholds([null, COLORS.critical], [0.8, COLORS.warning], [0.95, COLORS.ok]).build(),
          },
        ])
        .height(7)
        .span(8),
      needs: { A: { columns: ['online', 'expected'], groupTags: ['center'] } },
    },
    {
      title: 'Alarms today',
      question: 'How often did caregivers press the one-key alarm today, per centre?',
      panel: new stat.PanelBuilder()
        .title('Alarms today')
        .withTarget(target(alarmsToday).alias('$tag_center'))
        .timeFrom('now/d')
        .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(['sum']))
        .colorMode(BigValueColorMode.Background)
        .thresholds(thresholds([null, COLORS.ok], [1, COLORS.critical]))
        .unit('none')
        .noValue('0')
        .height(7)
        .span(8),
      needs: { A: { columns: ['alarms'], groupTags: ['center'] } },
    },
    {
      title: 'Time to acknowledge',
      question: 'How quickly do caregivers acknowledge alerts (median and slowest tenth), per centre?',
      panel: new table.PanelBuilder()
        .title('Time to acknowledge')
        .description('Raised → acknowledged, over the acknowledgements in the range (field ack_ms).')
        .withTarget(target(timeToAck).table())
        .transformations([
          { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { center: 'centre' } } },
        ])
        .unit('s')
        .decimals(0)
        .thresholds(thresholds([null, COLORS.ok], [30, COLORS.warning], [60, COLORS.critical]))
        .overrideByRegexp('median|p90', [{ id: 'custom.cellOptions', value: { type: 'color-text' } }])
        .height(7)
        .span(12),
      needs: { A: { columns: ['median', 'p90'], groupTags: ['center'] } },
    },
    {
      title: 'Wearable readings per centre (gaps in red)',
      question: 'Which centres had gaps in their data, and when?',
      panel: new statushistory.PanelBuilder()
        .title('Wearable readings per centre (gaps in red)')
        .withTarget(target(coverage).alias('$tag_center'))
        .interval('1m')
        .thresholds(thresholds([null, COLORS.critical], [1, COLORS.ok]))
        .unit('short')
        .height(7)
        .span(12),
      needs: { A: { columns: ['readings'], groupTags: ['center'] } },
    },
    {
      title: 'Open alerts',
      question: 'Which alerts are open across the city, where, and has anyone acknowledged them?',
      panel: new table.PanelBuilder()
        .title('Open alerts')
        .withTarget(target(alertRows(false)).table())
        .timeFrom(OPEN_ALERT_LOOKBACK)
        .transformations(OPEN_ALERT_TRANSFORMS)
        .overrideByName('severity', [
          { id: 'mappings', value: [SEVERITY_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .height(9)
        .span(24),
      needs: { A: { columns: ALERT_ROW_COLUMNS } },
    },
  ]);
}

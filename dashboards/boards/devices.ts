import { BarGaugeDisplayMode, ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import { type Board, assemble } from '../board.ts';
import { agg, from, tagVar, TIME_FILTER } from '../influxql.ts';
import {
  COLORS,
  DASHBOARD_UIDS,
  ONLINE_MAPPING,
  STATUS_LOOKBACK,
  centerVariable,
  crossLinks,
  roomVariable,
  target,
  thresholds,
} from '../style.ts';

/** docs/design.md's low-battery rule: info below 15 %, cleared at 20 %. */
const BATTERY_LOW = 15;
const BATTERY_OK = 20;

const wearables = from('wearable')
  .select(
    agg('wearable', 'last', 'battery').as('battery'),
    agg('wearable', 'last', 'rssi').as('rssi'),
    agg('wearable', 'last', 'worn').as('worn'),
  )
  .where(TIME_FILTER, tagVar('wearable', 'center', 'center'), tagVar('wearable', 'room', 'room'))
  .byTags('room', 'device', 'infant');

const statuses = from('device_status')
  .select(
    agg('device_status', 'last', 'online').as('online'),
    agg('device_status', 'last', 'battery').as('battery'),
  )
  .where(TIME_FILTER, tagVar('device_status', 'center', 'center'), tagVar('device_status', 'room', 'room'))
  .byTags('room', 'device', 'kind');

const onlineTimeline = from('device_status')
  .select(agg('device_status', 'last', 'online').as('online'))
  .where(TIME_FILTER, tagVar('device_status', 'center', 'center'), tagVar('device_status', 'room', 'room'))
  .byTime()
  .byTags('device')
  .fill('previous');

/** Counters are cumulative per process: their spread over the range is what the range added. */
const invalidByReason = from('pipeline')
  .select(agg('pipeline', 'spread', /^invalid_/))
  .where(TIME_FILTER)
  .byTags('service', 'instance');

const batteryThresholds = thresholds(
  [null, COLORS.critical],
  [BATTERY_LOW, COLORS.warning],
  [BATTERY_OK, COLORS.ok],
);

export function devicesBoard(): Board {
  const dashboard = new DashboardBuilder('Cradlewatch · Devices')
    .uid(DASHBOARD_UIDS.devices)
    .tags(['cradlewatch', 'supervisor'])
    .description(
      'Wearables, room sensors, alarm buttons and gateways: battery, last seen, offline periods, refusals.',
    )
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser')
    .withVariable(centerVariable(false))
    .withVariable(roomVariable(true))
    .links(crossLinks());

  return assemble(DASHBOARD_UIDS.devices, 'devices.json', dashboard, [
    {
      title: 'Wearables: battery and last reading',
      question: 'Which wearables need charging, are not worn, or stopped reporting (last reading long ago)?',
      panel: new table.PanelBuilder()
        .title('Wearables: battery and last reading')
        .description('Time is the last reading in the range; sort by it to find silent wearables.')
        .withTarget(target(wearables).table())
        .transformations([{ id: 'organize', options: { renameByName: { Time: 'last reading' } } }])
        .overrideByName('battery', [
          { id: 'unit', value: 'percent' },
          { id: 'thresholds', value: batteryThresholds.build() },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .overrideByName('rssi', [{ id: 'unit', value: 'dBm' }])
        .height(10)
        .span(12),
      needs: { A: { columns: ['battery', 'rssi', 'worn'], groupTags: ['room', 'device', 'infant'] } },
    },
    {
      title: 'Last status per device',
      question: 'Which devices last said goodbye (offline, or their last will), and when?',
      panel: new table.PanelBuilder()
        .title('Last status per device')
        .withTarget(target(statuses).table())
        .timeFrom(STATUS_LOOKBACK)
        .transformations([{ id: 'organize', options: { renameByName: { Time: 'last seen' } } }])
        .overrideByName('online', [
          { id: 'mappings', value: [ONLINE_MAPPING] },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .overrideByName('battery', [
          { id: 'unit', value: 'percent' },
          { id: 'thresholds', value: batteryThresholds.build() },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .height(10)
        .span(12),
      needs: { A: { columns: ['online', 'battery'], groupTags: ['room', 'device', 'kind'] } },
    },
    {
      title: 'Offline periods',
      question: 'When was each device offline, and for how long?',
      panel: new statetimeline.PanelBuilder()
        .title('Offline periods')
        .withTarget(target(onlineTimeline).alias('$tag_device'))
        .interval('1m')
        .mappings([ONLINE_MAPPING])
        .height(10)
        .span(24),
      needs: { A: { columns: ['online'], groupTags: ['device'] } },
    },
    {
      title: 'Refused and invalid messages by reason',
      question: 'Are devices sending malformed, unauthorised or clock-skewed messages, and why?',
      panel: new bargauge.PanelBuilder()
        .title('Refused and invalid messages by reason')
        .description(
          'Counted by each service (pipeline measurement, fields invalid_<reason>) over the range; all centres.',
        )
        .withTarget(target(invalidByReason).alias('$tag_service $col'))
        .displayMode(BarGaugeDisplayMode.Basic)
        .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(['lastNotNull']))
        .thresholds(thresholds([null, COLORS.ok], [1, COLORS.warning]))
        .unit('short')
        .height(8)
        .span(24),
      needs: { A: { columns: [], columnsLike: /^spread_invalid_/, groupTags: ['service', 'instance'] } },
    },
  ]);
}

import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { type Board, assemble } from '../board.ts';
import { agg, from, fromSubquery, outer, ratePerSecond, tagEq, TIME_FILTER } from '../influxql.ts';
import { COLORS, DASHBOARD_UIDS, crossLinks, target, thresholds } from '../style.ts';

/** Each ingest process writes a `pipeline` point every 10 s; a wider bucket always holds one. */
export const MIN_INTERVAL = '30s';

const ingest = tagEq('pipeline', 'service', 'ingest');

/** Rates per instance first, then summed: a sum of cumulative counters across restarts means nothing. */
const throughput = fromSubquery(
  from('pipeline')
    .select(
      ratePerSecond(agg('pipeline', 'last', 'received')).as('received'),
      ratePerSecond(agg('pipeline', 'last', 'written')).as('written'),
    )
    .where(TIME_FILTER, ingest)
    .byTime()
    .byTags('instance'),
)
  .select(outer('sum', 'received').as('received'), outer('sum', 'written').as('written'))
  .where(TIME_FILTER)
  .byTime()
  .fill('none');

const invalidRate = from('pipeline')
  .select(ratePerSecond(agg('pipeline', 'last', /^invalid_/)))
  .where(TIME_FILTER)
  .byTime()
  .byTags('service', 'instance');

const perInstance = (field: 'spool_bytes' | 'lag_ms') =>
  from('pipeline')
    .select(agg('pipeline', 'max', field).as(field))
    .where(TIME_FILTER, ingest)
    .byTime()
    .byTags('instance')
    .fill('null');

const series = (title: string) =>
  new timeseries.PanelBuilder().title(title).interval(MIN_INTERVAL).height(8).span(12);

export function pipelineBoard(): Board {
  const dashboard = new DashboardBuilder('Cradlewatch · Pipeline')
    .uid(DASHBOARD_UIDS.pipeline)
    .tags(['cradlewatch', 'operations'])
    .description('Is the data reaching InfluxDB: readings in and written, refusals, spool, lag.')
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .links(crossLinks());

  return assemble(DASHBOARD_UIDS.pipeline, 'pipeline.json', dashboard, [
    {
      title: 'Readings in and written',
      question: 'Is everything the devices send being written, or is ingest falling behind?',
      panel: series('Readings in and written')
        .withTarget(target(throughput).alias('$col'))
        .unit('suffix: readings/s')
        .min(0),
      needs: { A: { columns: ['received', 'written'] } },
    },
    {
      title: 'Invalid messages by reason',
      question: 'Is a device or firmware sending bad data right now, and of which kind?',
      panel: series('Invalid messages by reason')
        .withTarget(target(invalidRate).alias('$tag_instance $col'))
        .unit('suffix: messages/s')
        .min(0),
      needs: {
        A: {
          columns: [],
          columnsLike: /^non_negative_derivative_invalid_/,
          groupTags: ['service', 'instance'],
        },
      },
    },
    {
      title: 'Spool size',
      question: 'Is InfluxDB unreachable so ingest is spooling to disk, and how close is the disk budget?',
      panel: series('Spool size')
        .withTarget(target(perInstance('spool_bytes')).alias('$tag_instance'))
        .unit('bytes')
        .min(0)
        .thresholds(thresholds([null, COLORS.ok], [1, COLORS.warning])),
      needs: { A: { columns: ['spool_bytes'], groupTags: ['instance'] } },
    },
    {
      title: 'Lag (device time to written)',
      question: 'How old is the newest data on the dashboards: is what supervisors see current?',
      panel: series('Lag (device time to written)')
        .withTarget(target(perInstance('lag_ms')).alias('$tag_instance'))
        .unit('ms')
        .min(0)
        .thresholds(thresholds([null, COLORS.ok], [5_000, COLORS.warning], [60_000, COLORS.critical])),
      needs: { A: { columns: ['lag_ms'], groupTags: ['instance'] } },
    },
  ]);
}

import { it } from 'vitest';
import { influxQl } from '../lib/influx/query.ts';
import { freshInflux } from '../test/support/influx.ts';
import { seedDashboardData } from './test-seed.ts';
import { DeviceTimeClock } from '../rules/engine/clock.ts';
const orig = DeviceTimeClock.prototype.observe;
let n = 0;
DeviceTimeClock.prototype.observe = function (ts: number) {
  const before = this.now();
  orig.call(this, ts);
  if (ts - before > 20_000 && n++ < 15) console.log('JUMP', ts - before, ts, new Error().stack?.split('\n').slice(2, 5).join(' | '));
};
it('debug', async () => {
  const conn = await freshInflux();
  const t0 = Date.now();
  const seeded = await seedDashboardData(conn);
  console.log(JSON.stringify(seeded), 'seed ms', Date.now() - t0);
  for (const q of ['SELECT last(seq) FROM wearable', 'SELECT last(seq) FROM wearable WHERE time > now() - 1d GROUP BY device', 'SELECT * FROM device_status ORDER BY time DESC LIMIT 3', 'SELECT * FROM nap_session ORDER BY time DESC LIMIT 3', 'SELECT * FROM alarm ORDER BY time DESC LIMIT 3', 'SELECT * FROM room_env ORDER BY time DESC LIMIT 3', 'SELECT max(ack_ms) FROM alert']) {
    const [r] = await influxQl(conn, q);
    console.log(q, JSON.stringify(r?.series?.map((s) => ({ tags: s.tags, cols: s.columns, v: s.values.slice(-40) }))));
  }
  console.log('now', Date.now());
}, 90_000);

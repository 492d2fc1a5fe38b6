import { inject } from 'vitest';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { ensureDatabase, influxRows } from '../../lib/influx/query.ts';
import { type InfluxServerInfo, uniqueName } from './influx-provider.ts';

/**
 * A fresh, empty database (v1) or bucket with its DBRP mapping (v2) on the run's real server, so suites
 * never see each other's points.
 */
export async function freshInflux(server: InfluxServerInfo = inject('influx')): Promise<InfluxConnection> {
  const name = uniqueName();
  if (server.api === 'v1') {
    const conn: InfluxConnection = { api: 'v1', url: server.url, database: name };
    await ensureDatabase(conn);
    return conn;
  }
  const headers = { authorization: `Token ${server.token}`, 'content-type': 'application/json' };
  const bucket = (await (
    await fetch(`${server.url}/api/v2/buckets`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ orgID: server.orgId, name, retentionRules: [] }),
    })
  ).json()) as { id: string };
  await fetch(`${server.url}/api/v2/dbrps`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      orgID: server.orgId,
      bucketID: bucket.id,
      database: name,
      retention_policy: 'autogen',
      default: true,
    }),
  });
  return { api: 'v2', url: server.url, token: server.token!, org: server.org!, bucket: name };
}

/** `SELECT count(field) FROM measurement` as a number (0 when the measurement is empty). */
export async function countPoints(
  conn: InfluxConnection,
  measurement: string,
  field: string,
  where = '',
): Promise<number> {
  const rows = await influxRows(
    conn,
    `SELECT count("${field}") FROM "${measurement}"${where ? ` WHERE ${where}` : ''}`,
  );
  return Number(rows[0]?.count ?? 0);
}

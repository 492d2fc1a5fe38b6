import { z } from 'zod';
import type { Setting } from '../../protocol/settings.ts';

/**
 * How a service reaches InfluxDB. `v2` speaks /api/v2/write with a token (InfluxDB 2.x, 3.x, 1.8+);
 * `v1` speaks /write with database and retention policy (InfluxDB before 1.8, such as Debian's 1.6.7).
 * Both go through the same WriteApi; see writer.ts.
 */
export const influxConnectionSchema = z.discriminatedUnion('api', [
  z.object({
    api: z.literal('v2'),
    url: z.url(),
    token: z.string().min(1),
    org: z.string().min(1),
    bucket: z.string().min(1),
  }),
  z.object({
    api: z.literal('v1'),
    url: z.url(),
    database: z.string().min(1),
    retentionPolicy: z.string().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
  }),
]);
export type InfluxConnection = z.infer<typeof influxConnectionSchema>;

/** The env vars every service reads its InfluxDB connection from; `api` v2 needs token, org and bucket. */
export const INFLUX_SETTINGS: Setting[] = [
  {
    path: 'influx.api',
    env: 'CW_INFLUX_API',
    help: '`v2` (InfluxDB 1.8 and later) or `v1`',
    defaultText: 'v2',
  },
  { path: 'influx.url', env: 'CW_INFLUX_URL', help: 'InfluxDB URL' },
  { path: 'influx.token', env: 'CW_INFLUX_TOKEN', help: 'v2: API token' },
  { path: 'influx.org', env: 'CW_INFLUX_ORG', help: 'v2: organisation' },
  { path: 'influx.bucket', env: 'CW_INFLUX_BUCKET', help: 'v2: bucket' },
  { path: 'influx.database', env: 'CW_INFLUX_DATABASE', help: 'v1: database' },
  { path: 'influx.retentionPolicy', env: 'CW_INFLUX_RP', help: 'v1: retention policy' },
  { path: 'influx.username', env: 'CW_INFLUX_USERNAME', help: 'v1: user' },
  { path: 'influx.password', env: 'CW_INFLUX_PASSWORD', help: 'v1: password' },
];

/** The database name InfluxQL queries address: the v1 database, or the bucket's DBRP mapping on 2.x. */
export function queryDatabase(conn: InfluxConnection): string {
  return conn.api === 'v1' ? conn.database : conn.bucket;
}

/** docs/design.md makes v2 the default API: a connection given without `api` is a v2 one. */
export function defaultApiV2(value: unknown): unknown {
  return typeof value === 'object' && value !== null && !('api' in value) ? { ...value, api: 'v2' } : value;
}

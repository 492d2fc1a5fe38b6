import { z } from 'zod';

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

/** The env vars every service reads its InfluxDB connection from. */
export const INFLUX_ENV = {
  CW_INFLUX_API: 'influx.api',
  CW_INFLUX_URL: 'influx.url',
  CW_INFLUX_TOKEN: 'influx.token',
  CW_INFLUX_ORG: 'influx.org',
  CW_INFLUX_BUCKET: 'influx.bucket',
  CW_INFLUX_DATABASE: 'influx.database',
  CW_INFLUX_RP: 'influx.retentionPolicy',
  CW_INFLUX_USERNAME: 'influx.username',
  CW_INFLUX_PASSWORD: 'influx.password',
} as const;

/** The database name InfluxQL queries address: the v1 database, or the bucket's DBRP mapping on 2.x. */
export function queryDatabase(conn: InfluxConnection): string {
  return conn.api === 'v1' ? conn.database : conn.bucket;
}

/** docs/design.md makes v2 the default API: a connection given without `api` is a v2 one. */
export function defaultApiV2(value: unknown): unknown {
  return typeof value === 'object' && value !== null && !('api' in value) ? { ...value, api: 'v2' } : value;
}

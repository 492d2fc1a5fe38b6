import type { InfluxConnection } from './connection.ts';
import { queryDatabase } from './connection.ts';

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface InfluxStatementResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
}

export class InfluxQueryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'InfluxQueryError';
  }
}

export function authHeaders(conn: InfluxConnection): Record<string, string> {
  if (conn.api === 'v2') return { authorization: `Token ${conn.token}` };
  if (conn.username) {
    return {
      authorization: `Basic ${Buffer.from(`${conn.username}:${conn.password ?? ''}`).toString('base64')}`,
    };
  }
  return {};
}

/**
 * Runs InfluxQL through /query, which InfluxDB 1.x, 2.4+ (DBRP mapping) and 3.x all answer, so the
 * dashboards, tests and services share one query path. A statement error is thrown, not returned.
 */
export async function influxQl(
  conn: InfluxConnection,
  query: string,
  options: { database?: string | null; method?: 'GET' | 'POST'; timeoutMs?: number } = {},
): Promise<InfluxStatementResult[]> {
  const params = new URLSearchParams({ q: query, epoch: 'ms' });
  const db = options.database === undefined ? queryDatabase(conn) : options.database;
  if (db) params.set('db', db);
  const method = options.method ?? (/^\s*(select|show)\b/i.test(query) ? 'GET' : 'POST');
  const url = `${conn.url.replace(/\/$/, '')}/query${method === 'GET' ? `?${params}` : ''}`;
  const response = await fetch(url, {
    method,
    headers: {
      ...authHeaders(conn),
      ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(method === 'POST' ? { body: params.toString() } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  if (!response.ok)
    throw new InfluxQueryError(`InfluxQL ${response.status}: ${text.slice(0, 300)}`, response.status);
  const body = JSON.parse(text) as { results?: InfluxStatementResult[]; error?: string };
  if (body.error) throw new InfluxQueryError(`InfluxQL: ${body.error}`);
  const results = body.results ?? [];
  const failed = results.find((r) => r.error);
  if (failed) throw new InfluxQueryError(`InfluxQL: ${failed.error} in ${query.slice(0, 200)}`);
  return results;
}

/** Rows of the first series of the first statement as objects keyed by column. */
export async function influxRows(conn: InfluxConnection, query: string): Promise<Record<string, unknown>[]> {
  const [first] = await influxQl(conn, query);
  const rows: Record<string, unknown>[] = [];
  for (const series of first?.series ?? []) {
    for (const values of series.values) {
      rows.push({ ...series.tags, ...Object.fromEntries(series.columns.map((c, i) => [c, values[i]])) });
    }
  }
  return rows;
}

/** On 1.x a database must exist before /write accepts points; 2.x buckets are made by their setup. */
export async function ensureDatabase(conn: InfluxConnection): Promise<void> {
  if (conn.api !== 'v1') return;
  await influxQl(conn, `CREATE DATABASE "${conn.database.replace(/"/g, '\\"')}"`, { database: null });
}

export async function pingInflux(conn: Pick<InfluxConnection, 'url'>, timeoutMs = 2_000): Promise<boolean> {
  try {
    const response = await fetch(`${conn.url.replace(/\/$/, '')}/ping`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.status === 204 || response.ok;
  } catch {
    return false;
  }
}

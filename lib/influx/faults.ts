import { HttpError, RequestTimedOutError } from '@influxdata/influxdb-client';
import { type InfluxConnection, queryDatabase } from './connection.ts';
import { InfluxQueryError, authHeaders, influxQl } from './query.ts';

/**
 * Why InfluxDB cannot take writes now, whatever the lines hold: the store's fault, never the data's. A
 * writer keeps such lines (spool, retry) instead of refusing them; only a 400/422 about the lines themselves
 * makes a line bad input.
 */
export type StoreFaultKind = 'database-missing' | 'auth' | 'unavailable' | 'timeout';

export class StoreFault extends Error {
  constructor(
    readonly kind: StoreFaultKind,
    /** One line for /healthz: what is wrong. */
    readonly reason: string,
    /** One line for the log: what to do about it. */
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'StoreFault';
  }
}

function where(conn: InfluxConnection): string {
  return conn.api === 'v1' ? `database ${conn.database}` : `bucket ${conn.bucket} (org ${conn.org})`;
}

/** How to make the missing database or bucket by hand. */
export function createStoreHint(conn: InfluxConnection): string {
  return conn.api === 'v1'
    ? `create it: curl -XPOST '${conn.url}/query' --data-urlencode 'q=CREATE DATABASE "${conn.database}"'`
    : `create it: influx bucket create --host ${conn.url} --org ${conn.org} --name ${conn.bucket} ` +
        '(with a token allowed to write buckets), then map it for InfluxQL: influx v1 dbrp create';
}

/**
 * A write's failure as a StoreFault, or `undefined` when InfluxDB refused the lines themselves (400 bad
 * line protocol or a partial write, 422 unprocessable, 413 too large for one request): those are bisected
 * down to the lines at fault.
 */
export function classifyWriteError(error: unknown, conn: InfluxConnection): StoreFault | undefined {
  const options = { cause: error };
  const reachable = `start InfluxDB or check CW_INFLUX_URL (${conn.url}); ingest spools to disk meanwhile`;
  if (error instanceof StoreFault) return error;
  if (error instanceof RequestTimedOutError || (error as Error)?.name === 'TimeoutError') {
    return new StoreFault('timeout', `InfluxDB at ${conn.url} did not answer in time`, reachable, options);
  }
  if (!(error instanceof HttpError)) {
    const code = (error as { code?: string })?.code ?? (error as Error)?.message ?? String(error);
    return new StoreFault('unavailable', `InfluxDB at ${conn.url} unreachable: ${code}`, reachable, options);
  }
  const body = (error.body ?? error.message ?? '').slice(0, 200);
  const status = error.statusCode;
  if (status === 400 || status === 422 || status === 413) return undefined;
  if (status === 404 || /(database|bucket|retention policy) not found/i.test(body)) {
    return new StoreFault('database-missing', `${where(conn)} not found`, createStoreHint(conn), options);
  }
  if (status === 401 || status === 403) {
    const credentials = conn.api === 'v1' ? 'CW_INFLUX_USERNAME / CW_INFLUX_PASSWORD' : 'CW_INFLUX_TOKEN';
    return new StoreFault(
      'auth',
      `InfluxDB refused the credentials for ${where(conn)} (HTTP ${status})`,
      `check ${credentials} and that the account may write to ${where(conn)}`,
      options,
    );
  }
  return new StoreFault(
    'unavailable',
    `InfluxDB at ${conn.url} answered HTTP ${status}: ${body}`,
    reachable,
    options,
  );
}

/**
 * An empty write: 204 means the database exists and the credentials may write to it, which a /ping never
 * says. Resolves with the fault, or undefined when writes would be taken.
 */
export async function probeWrite(conn: InfluxConnection, timeoutMs = 5_000): Promise<StoreFault | undefined> {
  const base = conn.url.replace(/\/$/, '');
  const params =
    conn.api === 'v1'
      ? new URLSearchParams({
          db: conn.database,
          ...(conn.retentionPolicy ? { rp: conn.retentionPolicy } : {}),
          ...(conn.username ? { u: conn.username, p: conn.password ?? '' } : {}),
        })
      : new URLSearchParams({ org: conn.org, bucket: conn.bucket });
  try {
    const response = await fetch(`${base}${conn.api === 'v1' ? '/write' : '/api/v2/write'}?${params}`, {
      method: 'POST',
      headers: conn.api === 'v2' ? authHeaders(conn) : {},
      body: '',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    // Some versions answer an empty body with 400 "no data": the store is there and listening.
    if (response.ok || response.status === 400) return undefined;
    return classifyWriteError(new HttpError(response.status, response.statusText, text), conn);
  } catch (error) {
    return classifyWriteError(error, conn);
  }
}

/**
 * Makes the database (v1: CREATE DATABASE, which needs an admin on an auth-enabled server) or the bucket
 * (v2: needs a token allowed to write buckets). Resolves with what was done, or throws a StoreFault whose
 * fix says how to do it by hand.
 */
export async function createStore(conn: InfluxConnection): Promise<string> {
  try {
    if (conn.api === 'v1') {
      await influxQl(conn, `CREATE DATABASE "${conn.database.replace(/"/g, '\\"')}"`, { database: null });
      return `database ${conn.database} created (or already there)`;
    }
    const base = conn.url.replace(/\/$/, '');
    const headers = { ...authHeaders(conn), 'content-type': 'application/json' };
    const orgs = await fetch(`${base}/api/v2/orgs?org=${encodeURIComponent(conn.org)}`, { headers });
    if (!orgs.ok) throw new HttpError(orgs.status, orgs.statusText, await orgs.text());
    const orgID = ((await orgs.json()) as { orgs?: { id: string }[] }).orgs?.[0]?.id;
    if (!orgID) throw new Error(`org ${conn.org} not found`);
    const made = await fetch(`${base}/api/v2/buckets`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ orgID, name: conn.bucket, retentionRules: [] }),
    });
    if (!made.ok) throw new HttpError(made.status, made.statusText, await made.text());
    const bucketID = ((await made.json()) as { id: string }).id;
    // InfluxQL (dashboards, rules) reads the bucket through a DBRP mapping of the same name.
    await fetch(`${base}/api/v2/dbrps`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        orgID,
        bucketID,
        database: queryDatabase(conn),
        retention_policy: 'autogen',
        default: true,
      }),
    });
    return `bucket ${conn.bucket} created in org ${conn.org}`;
  } catch (error) {
    const detail =
      error instanceof InfluxQueryError || error instanceof HttpError
        ? error.message.slice(0, 200)
        : String((error as Error).message ?? error);
    throw new StoreFault(
      'database-missing',
      `${where(conn)} not found, and creating it failed: ${detail}`,
      createStoreHint(conn),
      { cause: error },
    );
  }
}

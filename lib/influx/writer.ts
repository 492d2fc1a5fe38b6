import { InfluxDB, type Transport, type WriteApi, type WriteOptions } from '@influxdata/influxdb-client';
import type { InfluxConnection } from './connection.ts';

/**
 * The WriteApi (batching, retries with backoff, jittered delays) speaks only /api/v2/write. InfluxDB before
 * 1.8 has just /write, so for `v1` the transport rewrites each write request's path and query string; the
 * batching and retry logic stays the library's.
 */
function v1Transport(inner: Transport, conn: Extract<InfluxConnection, { api: 'v1' }>): Transport {
  const rewrite = (path: string): string => {
    if (!path.startsWith('/api/v2/write?')) return path;
    const query = new URLSearchParams(path.slice('/api/v2/write?'.length));
    const out = new URLSearchParams({ db: conn.database, precision: query.get('precision') ?? 'ms' });
    if (conn.retentionPolicy) out.set('rp', conn.retentionPolicy);
    if (conn.username) out.set('u', conn.username);
    if (conn.password) out.set('p', conn.password);
    return `/write?${out.toString()}`;
  };
  return {
    send: (path, body, options, callbacks) => inner.send(rewrite(path), body, options, callbacks),
    request: (path, body, options, responseStarted) =>
      inner.request(rewrite(path), body, options, responseStarted),
    iterate: (path, body, options) => inner.iterate(rewrite(path), body, options),
    chunkCombiner: inner.chunkCombiner,
  };
}

export function createInfluxClient(conn: InfluxConnection, timeoutMs = 10_000): InfluxDB {
  if (conn.api === 'v2') return new InfluxDB({ url: conn.url, token: conn.token, timeout: timeoutMs });
  const base = new InfluxDB({ url: conn.url, timeout: timeoutMs });
  return new InfluxDB({ url: conn.url, timeout: timeoutMs, transport: v1Transport(base.transport, conn) });
}

/**
 * A WriteApi in millisecond precision: docs/design.md's data model is in ms, and 1.x misreads `us`.
 * The org/bucket arguments are only placeholders for v1, where the transport supplies db and rp.
 */
export function createWriteApi(conn: InfluxConnection, options: Partial<WriteOptions> = {}): WriteApi {
  const client = createInfluxClient(conn);
  const org = conn.api === 'v2' ? conn.org : '-';
  const bucket = conn.api === 'v2' ? conn.bucket : conn.database;
  // The library gzips every body over 1 kB. Across a network that saves bandwidth; to an InfluxDB on this
  // host it only costs CPU on both sides, compressing and decompressing.
  const gzipThreshold = isLoopback(conn.url) ? Number.POSITIVE_INFINITY : 1_000;
  return client.getWriteApi(org, bucket, 'ms', { gzipThreshold, ...options });
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

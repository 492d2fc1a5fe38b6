import { HttpError, RequestTimedOutError } from '@influxdata/influxdb-client';
import pino from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { classifyWriteError } from '../../lib/influx/faults.ts';
import { ensureDatabase } from '../../lib/influx/query.ts';
import { waitFor } from '../../lib/net.ts';
import { uniqueName } from '../support/influx-provider.ts';
import { type FaultRig, startRig } from './harness.ts';

interface Health {
  status: string;
  checks: { name: string; ok: boolean; reason?: string }[];
}

/** Log lines as objects, to check what an operator is told. */
function capture() {
  const lines: { level: number; msg: string; fix?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

const server = inject('influx');

describe.skipIf(server.api !== 'v1')('a missing database is a store fault, not bad input (#14.2)', () => {
  let rig: FaultRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('spools while the database is missing, says why, and writes every acknowledged reading once it exists', async () => {
    const influx: InfluxConnection = { api: 'v1', url: server.url, database: uniqueName() };
    const { log, lines } = capture();
    rig = await startRig(influx, { createDatabase: false }, log);
    const flow = rig.load();
    const health = async () => {
      const response = await fetch(`${rig!.ingest.httpUrl}/healthz`);
      return { code: response.status, body: (await response.json()) as Health };
    };
    await waitFor(() => rig!.acknowledged >= 300, { what: '300 readings acknowledged', timeoutMs: 60_000 });
    const during = await health();
    expect(during.code).toBe(503);
    expect(during.body.status).toBe('fail');
    expect(during.body.checks.find((c) => c.name === 'influx')).toEqual({
      name: 'influx',
      ok: false,
      reason: `database ${influx.database} not found`,
    });
    expect(rig.ingest.stats().invalidTotal).toBe(0);
    expect(rig.ingest.stats().spooled).toBeGreaterThan(0);

    await ensureDatabase(influx);
    const created = performance.now();
    const createdAt = rig.acknowledged;
    await waitFor(() => rig!.acknowledged >= createdAt + 300, {
      what: '300 more readings',
      timeoutMs: 60_000,
    });
    await flow.stop();
    await rig.allWritten(60_000);
    await waitFor(async () => (await health()).code === 200, { what: '/healthz ok again' });
    const seconds = (performance.now() - created) / 1000;

    expect(await rig.written()).toBe(rig.acknowledged);
    expect(rig.ingest.stats().invalidTotal).toBe(0);
    // One warn line for the cause, naming the fix, however many batches met it.
    const warned = lines.filter(
      (l) => l.level === 40 && l.msg.includes(`database ${influx.database} not found`),
    );
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toContain('CREATE DATABASE');
    console.log(
      `[faults] database missing: ${rig.acknowledged} acknowledged, ${await rig.written()} written, ` +
        `${rig.ingest.stats().invalidTotal} dead letters, /healthz ok ${seconds.toFixed(1)} s after the ` +
        `database was made, ${rig.connects()} connect(s)`,
    );
  });

  it('creates the database itself when allowed, and writes every acknowledged reading', async () => {
    const influx: InfluxConnection = { api: 'v1', url: server.url, database: uniqueName() };
    const { log, lines } = capture();
    rig = await startRig(influx, {}, log);
    await rig.publishGood(200);
    await rig.allWritten();
    expect(await rig.written()).toBe(rig.acknowledged);
    expect(rig.ingest.stats().invalidTotal).toBe(0);
    expect(lines.some((l) => l.msg === `database ${influx.database} created (or already there)`)).toBe(true);
  });
});

describe('InfluxDB answers, classified', () => {
  const conn: InfluxConnection = { api: 'v1', url: 'http://127.0.0.1:8086', database: 'cradlewatch' };
  const http = (status: number, body: string) => new HttpError(status, undefined, body);

  it.each([
    [
      404,
      '{"error":"database not found: \\"cradlewatch\\""}',
      'database-missing',
      'database cradlewatch not found',
    ],
    [500, '{"error":"retention policy not found: zz"}', 'database-missing', 'database cradlewatch not found'],
    [401, '{"error":"authorization failed"}', 'auth', 'InfluxDB refused the credentials'],
    [403, '{"error":"forbidden"}', 'auth', 'InfluxDB refused the credentials'],
    [503, 'unavailable', 'unavailable', 'answered HTTP 503'],
    [429, 'slow down', 'unavailable', 'answered HTTP 429'],
  ])('HTTP %i is the store fault %s', (status, body, kind, reason) => {
    const fault = classifyWriteError(http(status, body), conn);
    expect(fault?.kind).toBe(kind);
    expect(fault?.reason).toContain(reason);
    expect(fault?.fix.length).toBeGreaterThan(0);
  });

  it('a timeout or a refused connection is a store fault', () => {
    expect(classifyWriteError(new RequestTimedOutError(), conn)?.kind).toBe('timeout');
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyWriteError(refused, conn)?.reason).toMatch(/ECONNREFUSED/);
  });

  it.each([
    [400, '{"error":"partial write: field type conflict: input field \\"v\\" dropped=1"}'],
    [400, '{"error":"partial write: unable to parse \'m,, v=x 1\': missing tag key dropped=0"}'],
    [422, '{"code":"unprocessable entity","message":"failure writing points"}'],
  ])('HTTP %i about the lines is theirs: bisected to the bad ones', (status, body) => {
    expect(classifyWriteError(http(status, body), conn)).toBeUndefined();
  });
});

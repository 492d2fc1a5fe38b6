import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { influxRows } from '../../lib/influx/query.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freshInflux } from '../../test/support/influx.ts';
import { sampleTransition } from './channel-contract.ts';
import { InfluxHistoryChannel } from './influx.ts';
import { Outbox } from './outbox.ts';
import { tcpProxy } from '../../test/support/tcp-proxy.ts';

describe('Outbox (a channel’s durable delivery queue)', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'cw-outbox-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps what was taken and not settled across a reopen, and refuses a seq it already took', () => {
    const d = dir();
    const ts = [1, 2, 3, 4].map((seq) => sampleTransition({ seq }));
    const first = Outbox.open(d, 'webhook:a');
    for (const t of ts) expect(first.take(t)).toBe(true);
    first.settle([1, 3]);
    first.recordSend(Date.now());
    // No close: the process was killed, the file is as the last write left it.
    const second = Outbox.open(d, 'webhook:a');
    expect(second.pending().map((t) => t.seq)).toEqual([2, 4]);
    expect(second.recentSends()).toHaveLength(1);
    expect(second.take(ts[2]!)).toBe(false);
    expect(second.take(sampleTransition({ seq: 5 }))).toBe(true);
    second.close();
    first.close();
  });

  it('drops a torn last line and compacts to the pending transitions and the highest seq', () => {
    const d = dir();
    const box = Outbox.open(d, 'mqtt', { compactAfter: 2 });
    for (const seq of [1, 2, 3]) box.take(sampleTransition({ seq }));
    box.settle([1]);
    box.settle([2]);
    const lines = readFileSync(box.path, 'utf8').trim().split('\n');
    expect(lines.map((l) => Object.keys(JSON.parse(l) as object)[0])).toEqual(['h', 't']);
    box.close();
    appendFileSync(box.path, '{"t":{"seq":9');
    const reopened = Outbox.open(d, 'mqtt');
    expect(reopened.pending().map((t) => t.seq)).toEqual([3]);
    expect(reopened.take(sampleTransition({ seq: 2 }))).toBe(false);
    reopened.close();
    // Late confirmations after close (a peer answering a timed-out close) are ignored, not a crash.
    expect(() => reopened.settle([3])).not.toThrow();
  });

  it('keeps alert history InfluxDB has not confirmed, and writes it after the next start (real InfluxDB)', async () => {
    const d = dir();
    const conn = await freshInflux();
    const proxy = await tcpProxy(Number(new URL(conn.url).port));
    await proxy.cut();
    const down = { ...conn, url: `http://127.0.0.1:${proxy.port}` };
    const first = new InfluxHistoryChannel(down, 'en', silentLogger, 100, 300, Outbox.open(d, 'history'));
    const given = [1, 2, 3].map((seq) => sampleTransition({ seq, id: `hist-outbox-${seq}` }));
    for (const t of given) first.deliver(t);
    await first.close();
    const kept = Outbox.open(d, 'history');
    expect(kept.pending().map((t) => t.seq)).toEqual([1, 2, 3]);
    kept.close();

    const second = new InfluxHistoryChannel(conn, 'en', silentLogger, 100, 3_000, Outbox.open(d, 'history'));
    await second.close();
    const rows = await influxRows(conn, 'SELECT "alert_id" FROM "alert"');
    expect(rows.map((r) => r.alert_id).sort()).toEqual(given.map((t) => t.alert.id));
    const after = Outbox.open(d, 'history');
    expect(after.size).toBe(0);
    after.close();
  });
});

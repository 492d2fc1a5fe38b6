import { existsSync, appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { freePort } from '../lib/net.ts';
import { silentLogger } from '../lib/logger.ts';
import { countPoints, freshInflux } from '../test/support/influx.ts';
import { InfluxSink } from './influx-sink.ts';
import { startIngest } from './service.ts';
import { SinkUnavailableError } from './sink.ts';
import { Spool, SpoolFullError } from './spool.ts';
import { contractLines, sinkContract } from './sink-contract.ts';
import { tempDir, testConfig, testFleetIndex } from '../test/support/ingest.ts';

const retries = {
  batchSize: 1_000,
  maxRetries: 1,
  minRetryDelayMs: 50,
  maxRetryDelayMs: 200,
  log: silentLogger,
};

sinkContract('InfluxSink (real InfluxDB)', async () => {
  const conn = await freshInflux();
  const sink = new InfluxSink(conn, retries);
  let current = sink;
  return {
    sink,
    count: () => countPoints(conn, 'contract', 'n'),
    reopen: async () => {
      current = new InfluxSink(conn, retries);
      return current;
    },
    cleanup: async () => {
      await current.close().catch(() => {});
    },
  };
});

sinkContract('Spool (disk)', async () => {
  const dir = tempDir('cw-spool-');
  const options = { dir, maxBytes: 1024 * 1024, segmentBytes: 4 * 1024 };
  const sink = Spool.open(options);
  let current = sink;
  return {
    sink,
    count: async () => Spool.open(options).peekAll().flat().length,
    reopen: async () => {
      current = Spool.open(options);
      return current;
    },
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('Spool', () => {
  const open = (maxBytes = 64 * 1024, segmentBytes = 2 * 1024) => {
    const dir = tempDir('cw-spool-');
    return { dir, spool: Spool.open({ dir, maxBytes, segmentBytes }) };
  };

  it('refuses a batch past its byte budget with SpoolFullError and keeps what it has', async () => {
    const { spool } = open(4 * 1024, 1024);
    let taken = 0;
    await expect(
      (async () => {
        for (;;) {
          await spool.write(contractLines(10));
          taken += 10;
        }
      })(),
    ).rejects.toBeInstanceOf(SpoolFullError);
    expect(spool.bytes).toBeLessThanOrEqual(4 * 1024);
    expect(spool.peekAll().flat()).toHaveLength(taken);
  });

  it('drains oldest first across segments, deleting each segment once written', async () => {
    const { dir, spool } = open();
    const batches = Array.from({ length: 20 }, () => contractLines(8));
    for (const b of batches) await spool.write(b);
    expect(readdirSync(dir).length).toBeGreaterThan(1);
    const seen: string[][] = [];
    await spool.drain(async (lines) => {
      seen.push(lines);
    });
    expect(seen).toEqual(batches);
    expect(spool.isEmpty).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the segment when a drain write fails, and drains it on the next try', async () => {
    const { spool } = open();
    const batch = contractLines(5);
    await spool.write(batch);
    await expect(spool.drain(async () => Promise.reject(new Error('InfluxDB down')))).rejects.toThrow(
      'InfluxDB down',
    );
    expect(spool.peekAll()).toEqual([batch]);
    const seen: string[][] = [];
    await spool.drain(async (lines) => {
      seen.push(lines);
    });
    expect(seen).toEqual([batch]);
  });

  it('drops a torn record at the tail (a crash mid-append, never acknowledged)', async () => {
    const { dir, spool } = open();
    const batch = contractLines(3);
    await spool.write(batch);
    await spool.close();
    const [segment] = readdirSync(dir);
    appendFileSync(join(dir, segment!), Buffer.from([0, 0, 1, 0, 65, 66]));
    expect(Spool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 2 * 1024 }).peekAll()).toEqual([batch]);
  });
});

describe('InfluxSink', () => {
  it('isolates the lines InfluxDB refuses with a 4xx and writes the rest', async () => {
    const conn = await freshInflux();
    const sink = new InfluxSink(conn, retries);
    const lines = contractLines(9);
    lines.splice(4, 0, 'contract,k=bad this is not line protocol');
    lines.splice(7, 0, 'contract n="a string where an integer lives"');
    const result = await sink.write(lines);
    expect(result.rejected.map((r) => r.index)).toEqual([4, 7]);
    expect(result.rejected[0]!.detail).toMatch(/InfluxDB 400/);
    expect(await countPoints(conn, 'contract', 'n')).toBe(9);
    await sink.close();
  });

  it('gives up with SinkUnavailableError after its retries when InfluxDB is unreachable', async () => {
    const conn: InfluxConnection = {
      api: 'v1',
      url: `http://127.0.0.1:${await freePort()}`,
      database: 'nowhere',
    };
    const sink = new InfluxSink(conn, retries);
    await expect(sink.write(contractLines(2))).rejects.toBeInstanceOf(SinkUnavailableError);
    await sink.close();
  });
});

describe('start-up', () => {
  it('drains the spool a previous run left before taking new messages', async () => {
    const influx = await freshInflux();
    const config = testConfig(influx, `mqtt://127.0.0.1:${await freePort()}`);
    const left = Spool.open(config.spool);
    await left.write(contractLines(50));
    await left.write(contractLines(50));
    await left.close();
    const ingest = await startIngest(config, silentLogger, { fleet: testFleetIndex() });
    try {
      expect(await countPoints(influx, 'contract', 'n')).toBe(100);
      expect(ingest.stats().spoolBytes).toBe(0);
      expect(existsSync(config.spool.dir)).toBe(true);
    } finally {
      await ingest.close();
    }
  });
});

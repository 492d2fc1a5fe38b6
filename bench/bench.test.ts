import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runBench } from './harness.ts';
import { type BenchOptions, SCENARIOS, SMOKE } from './options.ts';

const resultsDir = mkdtempSync(join(tmpdir(), 'cw-bench-results-'));
afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

const smoke = (
  options: Pick<BenchOptions, 'scenarios' | 'topology'> &
    Partial<Pick<BenchOptions, 'brokers' | 'partitions'>>,
): BenchOptions => ({
  brokers: 1,
  partitions: 1,
  ...options,
  rate: SMOKE.rate,
  durationS: SMOKE.duration,
  connections: SMOKE.connections,
  presses: SMOKE.presses,
  outageS: SMOKE.outage,
  ceilingS: SMOKE.ceilingS,
  progress: () => {},
});

it('the benchmark harness runs every scenario on a tiny load with nothing lost (smoke run, one process)', async () => {
  const { results, table, jsonFile } = await runBench(
    smoke({ scenarios: [...SCENARIOS], topology: 'one-process' }),
    resultsDir,
  );
  expect(results.map((r) => r.scenario)).toEqual([...SCENARIOS]);
  for (const r of results) {
    expect(r.readingsSent, r.scenario).toBeGreaterThan(0);
    expect(r.lost, r.scenario).toBe(0);
    expect(r.readingsWritten, r.scenario).toBe(r.readingsSent);
    expect(r.ceilings.influxPointsPerS).toBeGreaterThan(0);
    expect(r.ceilings.bareBrokerReadingsPerS).toBeGreaterThan(0);
    expect(r.processes.map((p) => p.process)).toContain('influxd');
  }
  const latency = results.find((r) => r.scenario === 'latency')!.latencyMs!;
  expect(latency.count).toBe(SMOKE.presses);
  expect(latency.p99).toBeGreaterThanOrEqual(latency.p50);
  expect(results.find((r) => r.scenario === 'recovery')!.drainS).toBeGreaterThanOrEqual(0);
  expect(results.find((r) => r.scenario === 'connections')!.connections).toBeGreaterThanOrEqual(
    SMOKE.connections,
  );
  expect(table.split('\n')).toHaveLength(2 + SCENARIOS.length);
  expect(JSON.parse(readFileSync(jsonFile, 'utf8')).results).toHaveLength(SCENARIOS.length);
}, 180_000);

it('runs broker, ingest and rules as three processes and measures each (smoke run, split)', async () => {
  const { results } = await runBench(smoke({ scenarios: ['latency'], topology: 'split' }), resultsDir);
  const [r] = results;
  expect(r!.topology).toBe('split');
  expect(r!.readingsSent).toBeGreaterThan(0);
  expect(r!.readingsWritten).toBe(r!.readingsSent);
  expect(r!.latencyMs!.count).toBe(SMOKE.presses);
  expect(r!.processes.map((p) => p.process)).toEqual(
    expect.arrayContaining(['cradlewatch broker', 'cradlewatch ingest', 'cradlewatch rules', 'influxd']),
  );
}, 120_000);

it('runs a cluster of two brokers on a redis-server of its own, each measured (smoke run, split, 2 brokers, 2 partitions)', async () => {
  // Half the smoke's seconds: seven service processes take most of the time to start on two cores.
  const { results, table } = await runBench(
    { ...smoke({ scenarios: ['throughput'], topology: 'split', brokers: 2, partitions: 2 }), durationS: 3 },
    resultsDir,
  );
  const [r] = results;
  expect(r!.brokers).toBe(2);
  expect(table).toContain('| throughput (split, 2 brokers, 2 partitions) |');
  expect(r!.readingsSent).toBeGreaterThan(0);
  expect(r!.readingsWritten).toBe(r!.readingsSent);
  expect(r!.processes.map((p) => p.process)).toEqual(
    expect.arrayContaining([
      'cradlewatch broker b0',
      'cradlewatch broker b1',
      "redis-server (the brokers' cluster)",
      'cradlewatch ingest p0of2',
      'cradlewatch rules p1of2',
    ]),
  );
}, 60_000);

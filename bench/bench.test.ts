import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SCENARIOS, SMOKE, runBench } from './harness.ts';

it('the benchmark harness runs every scenario on a tiny load with nothing lost (smoke run)', async () => {
  const resultsDir = mkdtempSync(join(tmpdir(), 'cw-bench-results-'));
  try {
    const { results, table, jsonFile } = await runBench(
      {
        scenarios: [...SCENARIOS],
        rate: SMOKE.rate,
        durationS: SMOKE.duration,
        connections: SMOKE.connections,
        presses: SMOKE.presses,
        outageS: SMOKE.outage,
        ceilingS: SMOKE.ceilingS,
        progress: () => {},
      },
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
    expect(latency.p99).toBeLessThan(1_000);
    expect(results.find((r) => r.scenario === 'recovery')!.drainS).toBeGreaterThanOrEqual(0);
    expect(results.find((r) => r.scenario === 'connections')!.connections).toBeGreaterThanOrEqual(
      SMOKE.connections,
    );
    expect(table.split('\n')).toHaveLength(2 + SCENARIOS.length);
    expect(JSON.parse(readFileSync(jsonFile, 'utf8')).results).toHaveLength(SCENARIOS.length);
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
}, 180_000);

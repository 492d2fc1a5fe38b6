import { type ScenarioResult, topologyName } from './options.ts';

/** The results as one markdown table, a row a scenario run. */
export function renderTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario (services) | offered readings/s | connections | achieved readings/s | sent | written | lost | alarm→SSE p50/p99/max ms | spool drain s | alert transitions | devices dropped by the simulator | silence alerts raised after all connected | broker holds / hold announcements heard by the rules | InfluxDB ceiling pts/s | bare Aedes ceiling readings/s | CPU % / peak RSS MB per process |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const latency = r.latencyMs
      ? `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} (n=${r.latencyMs.count})`
      : '–';
    const transitions =
      Object.entries(r.alertTransitions)
        .map(([rule, n]) => `${rule} ${n}`)
        .join(', ') || '0';
    const processes = r.processes.map((p) => `${p.process}: ${p.cpuPercent} % / ${p.peakRssMb}`).join('; ');
    rows.push(
      `| ${r.scenario} (${topologyName(r)}) | ${r.offeredPerS} | ${r.connections} | ${r.achievedPerS} | ${r.readingsSent} | ${r.readingsWritten} | ${r.lost} | ${latency} | ${r.drainS ?? '–'} | ${transitions} | ${r.groundTruth.devicesDropped} | ${Object.values(r.silenceRaisedAfterConnect).reduce((a, b) => a + b, 0)} | ${r.overload.brokerHolds} / ${r.overload.rulesHeardHeld} | ${r.ceilings.influxPointsPerS} | ${r.ceilings.bareBrokerReadingsPerS} | ${processes} |`,
    );
  }
  return rows.join('\n');
}

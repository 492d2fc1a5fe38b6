import pidusage from 'pidusage';
import type { ProcessUsage } from './options.ts';

/** Samples CPU and RSS of named processes once a second; CPU is the average over the window, as % of one core. */
export function sampleProcesses(pids: () => Record<string, number | undefined>) {
  const stats = new Map<string, { cpu: number[]; peak: number }>();
  const timer = setInterval(async () => {
    for (const [name, pid] of Object.entries(pids())) {
      if (!pid) continue;
      try {
        const usage = await pidusage(pid);
        const entry = stats.get(name) ?? { cpu: [], peak: 0 };
        entry.cpu.push(usage.cpu);
        entry.peak = Math.max(entry.peak, usage.memory);
        stats.set(name, entry);
      } catch {
        // The process may be between a stop and a restart (the recovery scenario's influxd).
      }
    }
  }, 1_000);
  return (): ProcessUsage[] => {
    clearInterval(timer);
    pidusage.clear();
    return [...stats].map(([name, s]) => ({
      process: name,
      cpuPercent: Math.round(s.cpu.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, s.cpu.length - 1)),
      peakRssMb: Math.round(s.peak / 2 ** 20),
    }));
  };
}

import { spawnSync } from 'node:child_process';

/** `promtool check metrics` (Debian's prometheus package) on Prometheus text: exit code and what it said. */
export function promtoolCheck(text: string): { code: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool could not run (apt-get install prometheus): ${run.error.message}`);
  return { code: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` (node --cpu-prof) that self time needs. */
interface CpuProfile {
  startTime: number;
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/** `node_modules/<package>` (scoped too), `node:internal`, the project's own files, or what V8 calls it. */
function owner(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node (internal)';
  if (url.includes('/')) return 'cradlewatch';
  return functionName || '(program)';
}

function ranked(totals: Map<string, number>, all: number, top: number): SelfTime[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: us / all }));
}

/**
 * Where a profile's samples fell: the functions with the most self time, and the packages they belong to
 * (what a flame graph's bottom row says, as a table a README can hold). Idle time is left out of the shares.
 * `window` keeps the samples between two readings of the monotonic clock in µs (`process.hrtime`, which
 * V8 stamps its samples with on Linux), so a bench can leave out its start and what follows.
 */
export function selfTime(
  file: string,
  window: { from: number; to: number } = { from: 0, to: Number.POSITIVE_INFINITY },
  top = 15,
): { functions: SelfTime[]; packages: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let all = 0;
  let at = profile.startTime;
  for (const [i, id] of profile.samples.entries()) {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    const frame = byId.get(id)!;
    if (frame.functionName === '(idle)' || at < window.from || at > window.to) continue;
    all += us;
    const where = frame.url ? `${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
    const pkg = owner(frame.url, frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  return { functions: ranked(functions, all, top), packages: ranked(packages, all, top) };
}

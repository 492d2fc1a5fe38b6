import type { Health } from '../../protocol/health.ts';

/** Sums the samples of `name` in Prometheus text whose labels include `labels` (0 when there are none). */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => present.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

/** Reads one metric from a service's `/metrics` (tests, the bench). */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sampleSum(await (await fetch(`${baseUrl}/metrics`)).text(), name, labels);
}

/** A service's `/healthz` body, or undefined while it does not answer. */
export async function fetchHealth(baseUrl: string): Promise<Health | undefined> {
  const response = await fetch(`${baseUrl}/healthz`).catch(() => undefined);
  return response ? ((await response.json()) as Health) : undefined;
}

/** Whether the check `name` (e.g. ingest's `mqtt`) passes in a `/healthz` body. */
export function checkPasses(health: Health | undefined, name: string): boolean {
  return health?.checks.some((c) => c.name === name && c.ok) === true;
}

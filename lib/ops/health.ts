import type { HealthCheckResult } from '../../protocol/health.ts';

export type CheckOutcome = { ok: true } | { ok: false; reason: string };
/** One named condition a service is healthy only while it holds; read at every `/healthz`. */
export type HealthCheck = () => CheckOutcome | Promise<CheckOutcome>;
export type HealthChecks = Record<string, HealthCheck>;

export const passing: CheckOutcome = { ok: true };

/** `ok` is true, or the check fails with `reason`: the shape most checks reduce to. */
export function unless(ok: boolean, reason: string): CheckOutcome {
  return ok ? passing : { ok: false, reason };
}

/** Runs every check; one that throws fails with its message, so a broken probe reads as a failure, not a 500. */
export async function runChecks(checks: HealthChecks, namePrefix = ''): Promise<HealthCheckResult[]> {
  return Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<HealthCheckResult> => {
      const full = `${namePrefix}${name}`;
      try {
        const outcome = await check();
        return outcome.ok ? { name: full, ok: true } : { name: full, ok: false, reason: outcome.reason };
      } catch (error) {
        return { name: full, ok: false, reason: `check failed: ${(error as Error).message}` };
      }
    }),
  );
}

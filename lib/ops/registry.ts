import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Service } from '../../protocol/health.ts';

/** `cradlewatch_<service>_`: the one prefix of every metric a service defines. */
export function metricPrefix(service: Service): string {
  return `cradlewatch_${service}_`;
}

// prom-client names these gauges `…_total`, which Prometheus reserves for counters (promtool refuses them).
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

let processMetrics: Registry | undefined;

/**
 * prom-client's standard `process_*` and `nodejs_*` metrics, made once per process: several services in one
 * process (`cradlewatch up`, tests) share its CPU and memory, and one endpoint must not list them twice.
 */
export function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    for (const name of MISNAMED_DEFAULTS) processMetrics.removeSingleMetric(name);
  }
  return processMetrics;
}

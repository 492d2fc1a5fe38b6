export {
  type CheckOutcome,
  type HealthCheck,
  type HealthChecks,
  passing,
  runChecks,
  unless,
} from './health.ts';
export { health, type OpsSource, registerOpsRoutes } from './plugin.ts';
export { metricPrefix, processRegistry } from './registry.ts';
export { sampleSum, scrapeMetric } from './scrape.ts';

export { type CheckOutcome, type HealthCheck, type HealthChecks, passing, unless } from './health.ts';
export { type OpsSource, registerOpsRoutes } from './plugin.ts';
export { metricPrefix } from './registry.ts';
export { checkPasses, fetchHealth, sampleSum, scrapeMetric } from './scrape.ts';

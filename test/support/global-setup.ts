import type { TestProject } from 'vitest/node';
import { type InfluxServerInfo, provideInfluxServer } from './influx-provider.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    influx: InfluxServerInfo;
  }
}

/** One real InfluxDB for the whole run; suites take fresh databases on it (see influx.ts). */
export default async function setup(project: TestProject) {
  const { info, stop } = await provideInfluxServer();
  console.log(`[test] InfluxDB ${info.api} at ${info.url} (${info.source})`);
  project.provide('influx', info);
  return async () => {
    await stop();
  };
}

import type { TestProject } from 'vitest/node';
import { type InfluxServerInfo, provideInfluxServer } from './influx-provider.ts';
import { isolateTmpdir } from './tmp-guard.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    influx: InfluxServerInfo;
  }
}

/** One real InfluxDB for the whole run; suites take fresh databases on it (see influx.ts). */
export default async function setup(project: TestProject) {
  // Which Node ran the suite matters: scripts/setup.mjs may have substituted the project's Node 24.
  console.log(`[test] Node ${process.version} (${process.execPath})`);
  const tmp = isolateTmpdir();
  let provided: Awaited<ReturnType<typeof provideInfluxServer>>;
  try {
    provided = await provideInfluxServer();
  } catch (error) {
    // A missing server is a setup problem, not a test failure: one line on what to do, not a stack.
    console.error(`[test] ${(error as Error).message}`);
    tmp.finish();
    process.exit(1);
  }
  const { info, stop } = provided;
  console.log(`[test] InfluxDB ${info.api} at ${info.url} (${info.source})`);
  project.provide('influx', info);
  return async () => {
    await stop();
    const left = tmp.finish();
    if (left.length > 0) {
      // Removed with the run's directory, so /tmp stays clean; the run still fails, naming each one.
      throw new Error(
        `[test] the run left ${left.length} entries in its temp dir (${tmp.dir}), which some test never removed: ${left.join(', ')}`,
      );
    }
  };
}

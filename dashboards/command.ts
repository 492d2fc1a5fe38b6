import { relative } from 'node:path';
import type { Command } from 'commander';

/**
 * The builders load @grafana/grafana-foundation-sdk, a dev dependency the service image leaves out, so they
 * are imported only when a dashboards command runs.
 */
const loadBuild = () => import('./build.ts');

export function registerDashboardsCommand(program: Command): void {
  const dashboards = program
    .command('dashboards')
    .description('Grafana dashboards and supervisor alert rules, built from TypeScript');
  dashboards
    .command('build')
    .description('write dashboards/build/*.json and dashboards/provisioning/alerting/supervisors.yaml')
    .option('--out <dir>', 'dashboards root to write into (default: the dashboards folder)')
    .action(async (options: { out?: string }) => {
      const { DASHBOARDS_DIR, writeAll } = await loadBuild();
      for (const file of writeAll(options.out ?? DASHBOARDS_DIR))
        console.log(`wrote ${relative(process.cwd(), file)}`);
    });
  dashboards
    .command('check')
    .description('exit 1 when the committed files differ from a fresh build')
    .option('--dir <dir>', 'dashboards root to check (default: the dashboards folder)')
    .action(async (options: { dir?: string }) => {
      const { DASHBOARDS_DIR, staleFiles } = await loadBuild();
      const stale = staleFiles(options.dir ?? DASHBOARDS_DIR);
      if (stale.length === 0) {
        console.log('dashboards are up to date');
        return;
      }
      console.error(`stale, run \`cradlewatch dashboards build\`:\n  ${stale.join('\n  ')}`);
      process.exitCode = 1;
    });
}

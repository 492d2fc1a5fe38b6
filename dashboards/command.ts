import type { Command } from 'commander';

export function registerDashboardsCommand(program: Command): void {
  program
    .command('dashboards')
    .description('dashboards service (being built)')
    .action(() => {
      console.error('cradlewatch dashboards: not built yet');
      process.exit(1);
    });
}

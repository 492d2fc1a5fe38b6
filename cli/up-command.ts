import type { Command } from 'commander';

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run broker, ingest, rules and the caregiver page in one process (being built)')
    .action(() => {
      console.error('cradlewatch up: not built yet');
      process.exit(1);
    });
}

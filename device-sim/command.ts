import type { Command } from 'commander';

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('device simulator (being built)')
    .action(() => {
      console.error('cradlewatch sim: not built yet');
      process.exit(1);
    });
}

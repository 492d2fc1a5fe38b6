import type { Command } from 'commander';

export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('broker service (being built)')
    .action(() => {
      console.error('cradlewatch broker: not built yet');
      process.exit(1);
    });
}

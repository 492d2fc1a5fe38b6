import type { Command } from 'commander';

export function registerRulesCommand(program: Command): void {
  program
    .command('rules')
    .description('rules service (being built)')
    .action(() => {
      console.error('cradlewatch rules: not built yet');
      process.exit(1);
    });
}

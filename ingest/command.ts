import type { Command } from 'commander';

export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('ingest service (being built)')
    .action(() => {
      console.error('cradlewatch ingest: not built yet');
      process.exit(1);
    });
}

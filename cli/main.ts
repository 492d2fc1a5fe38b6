import { Command, CommanderError } from 'commander';
import { ConfigError } from '../protocol/config.ts';
import { registerInfluxCommand } from './influx-command.ts';
import { COMMANDS } from './commands.ts';

export function buildProgram(): Command {
  const program = new Command('cradlewatch')
    .description('Telemetry pipeline for infant rooms: broker, ingest, rules, simulator and dashboards')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    // Options after a command name belong to that command, so `broker export --fleet` reaches export rather
    // than the broker's own --fleet.
    .enablePositionalOptions();
  for (const register of COMMANDS) register(program);
  registerInfluxCommand(program);
  // Commander's own errors (unknown command or flag, missing argument) exit 2 like other Unix tools; every
  // level of subcommand must throw instead of exiting for main() to choose the code.
  const overrideAll = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideAll);
  };
  overrideAll(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    process.exit(2);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Asked-for help and --version exit 0; help shown because a command was incomplete exits 2 with the rest.
      process.exit(error.exitCode === 0 ? 0 : 2);
    }
    if (error instanceof ConfigError) {
      console.error(`cradlewatch: ${error.message}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  }
}

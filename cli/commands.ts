import type { Command } from 'commander';
import { registerBrokerCommand } from '../broker/command.ts';
import { registerDashboardsCommand } from '../dashboards/command.ts';
import { registerFrontendCommand } from '../frontend/command.ts';
import { registerSimCommand } from '../device-sim/command.ts';
import { registerIngestCommand } from '../ingest/command.ts';
import { registerRulesCommand } from '../rules/command.ts';
import { registerUpCommand } from './up-command.ts';
import { registerBenchCommand } from '../bench/command.ts';

/** Each component registers its own subcommand; this list is the whole CLI surface. */
export const COMMANDS: ((program: Command) => void)[] = [
  registerUpCommand,
  registerBrokerCommand,
  registerIngestCommand,
  registerRulesCommand,
  registerFrontendCommand,
  registerSimCommand,
  registerDashboardsCommand,
  registerBenchCommand,
];

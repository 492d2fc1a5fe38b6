import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { BROKER_SETTINGS, brokerConfigSchema } from '../broker/config.ts';
import { SIM_SETTINGS, simConfigSchema } from '../device-sim/config.ts';
import { FRONTEND_SETTINGS, frontendConfigSchema } from '../frontend/config.ts';
import { INGEST_SETTINGS, ingestConfigSchema } from '../ingest/config.ts';
import { type Setting, settingsTable } from '../protocol/settings.ts';
import { RULES_SETTINGS, rulesServiceConfigSchema } from '../rules/config.ts';
import { UP_SETTINGS, upConfigSchema } from './up/config.ts';

const ROOT = join(import.meta.dirname, '..');
const BEGIN = '<!-- settings: written from config.ts by `npm run docs:settings` -->';
const END = '<!-- /settings -->';

/** Each service's README and the settings its table is made from. */
const DOCUMENTED: { readme: string; schema: z.ZodType; settings: readonly Setting[] }[] = [
  { readme: 'broker/README.md', schema: brokerConfigSchema, settings: BROKER_SETTINGS },
  { readme: 'ingest/README.md', schema: ingestConfigSchema, settings: INGEST_SETTINGS },
  { readme: 'rules/README.md', schema: rulesServiceConfigSchema, settings: RULES_SETTINGS },
  { readme: 'frontend/README.md', schema: frontendConfigSchema, settings: FRONTEND_SETTINGS },
  { readme: 'device-sim/README.md', schema: simConfigSchema, settings: SIM_SETTINGS },
  { readme: 'cli/README.md', schema: upConfigSchema, settings: UP_SETTINGS },
];

export interface SettingsReadme {
  /** Relative to the repository root. */
  readme: string;
  current: string;
  /** The README with its table as the settings make it. */
  wanted: string;
}

function withTable(readme: string, text: string, table: string): string {
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END, begin);
  if (begin < 0 || end < 0) throw new Error(`${readme} has no ${BEGIN} … ${END} for its settings table`);
  return `${text.slice(0, begin + BEGIN.length)}\n${table}\n${text.slice(end)}`;
}

export function settingsReadmes(): SettingsReadme[] {
  return DOCUMENTED.map(({ readme, schema, settings }) => {
    const current = readFileSync(join(ROOT, readme), 'utf8');
    return { readme, current, wanted: withTable(readme, current, settingsTable(schema, settings)) };
  });
}

/** Rewrites the tables that differ; returns the READMEs written. */
export function writeSettingsReadmes(): string[] {
  const stale = settingsReadmes().filter((r) => r.current !== r.wanted);
  for (const { readme, wanted } of stale) writeFileSync(join(ROOT, readme), wanted);
  return stale.map((r) => r.readme);
}

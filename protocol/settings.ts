import { type Command, Option } from 'commander';
import type { z } from 'zod';
import { type ConfigSources, loadConfig, printableConfig } from './config.ts';

/**
 * A setting a service takes from env or a flag, declared once: the env map and flag map of `loadConfig`,
 * the commander options and the README table are all read from a service's list. Its default lives in the
 * zod schema alone; every key of the schema may also be set in the config file.
 */
export interface Setting {
  /** Dotted config path, e.g. `batch.size`. */
  path: string;
  env?: string;
  /** As commander takes it: `--batch-size <points>`; one without an argument sets `true`. */
  flag?: string;
  help: string;
  /** For a default the schema computes rather than declares (a host name, a preprocess step). */
  defaultText?: string;
}

/** Commander's parsed options of a service command: `--config`, `--print-config` and the settings' flags. */
export interface SettingFlags {
  config?: string;
  printConfig?: boolean;
  [attribute: string]: unknown;
}

/** `--batch-size <points>` → `batchSize`, as commander names the parsed option. */
export const flagAttribute = (flag: string): string => new Option(flag).attributeName();

export function envMapOf(settings: readonly Setting[]): Record<string, string> {
  return Object.fromEntries(settings.flatMap((s) => (s.env ? [[s.env, s.path]] : [])));
}

export function flagMapOf(settings: readonly Setting[]): Record<string, string> {
  return Object.fromEntries(settings.flatMap((s) => (s.flag ? [[flagAttribute(s.flag), s.path]] : [])));
}

/** File, then the settings' env vars, then their flags; maps given in `sources` are added to them. */
export function loadSettings<S extends z.ZodType>(
  schema: S,
  settings: readonly Setting[],
  sources: ConfigSources = {},
): z.infer<S> {
  return loadConfig(schema, {
    ...sources,
    envMap: { ...envMapOf(settings), ...sources.envMap },
    flagMap: { ...flagMapOf(settings), ...sources.flagMap },
  });
}

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; options?: z.ZodType[] };
const defOf = (schema: z.ZodType) => (schema as unknown as { def: Def }).def;

/** The schema of one key of an object schema, through defaults, optionals, pipes and union options. */
function child(schema: z.ZodType, key: string): z.ZodType | undefined {
  const def = defOf(schema);
  if (def.type === 'object') return (schema as z.ZodObject).shape[key];
  if (def.innerType) return child(def.innerType, key);
  // A preprocess step runs before its schema, a transform after it: the keys are the schema's.
  if (def.type === 'pipe') return child(defOf(def.in!).type === 'transform' ? def.out! : def.in!, key);
  if (def.options) {
    for (const option of def.options) {
      const found = child(option, key);
      if (found) return found;
    }
  }
  return undefined;
}

/** The schema's default at `path`, what an unset value parses to; undefined when there is none. */
export function defaultAt(schema: z.ZodType, path: string): unknown {
  let node: z.ZodType | undefined = schema;
  for (const key of path.split('.')) {
    node = child(node, key);
    if (!node) throw new Error(`setting ${path}: the config schema has no such key`);
  }
  const parsed = node.safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

function shownDefault(schema: z.ZodType, setting: Setting): string | undefined {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value = defaultAt(schema, setting.path);
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `-c/--config`, a flag per setting with its env var and default in the help, and `--print-config`. */
export function addSettingOptions(
  command: Command,
  schema: z.ZodType,
  settings: readonly Setting[],
  configHelp = 'YAML or JSON config file',
): Command {
  command.option('-c, --config <file>', configHelp);
  for (const setting of settings) {
    if (!setting.flag) continue;
    const fallback = shownDefault(schema, setting);
    const notes = [
      setting.env && `env ${setting.env}`,
      fallback !== undefined && `default ${fallback}`,
    ].filter(Boolean);
    command.option(setting.flag, notes.length ? `${setting.help} (${notes.join('; ')})` : setting.help);
  }
  return command.option('--print-config', 'print the merged config (secrets masked) and exit');
}

/** `--print-config`: prints the config and says so, for the command to stop there. */
export function printedConfig(flags: SettingFlags, config: unknown): boolean {
  if (flags.printConfig) console.log(printableConfig(config));
  return flags.printConfig === true;
}

const cell = (text: string | undefined) => (text ? `\`${text.replaceAll('|', '\\|')}\`` : '');

/** The README table: one row per setting; keys that only the file sets are described in prose. */
export function settingsTable(schema: z.ZodType, settings: readonly Setting[]): string {
  const rows = settings.map((s) =>
    [
      cell(s.path),
      cell(s.flag),
      cell(s.env),
      cell(shownDefault(schema, s)),
      s.help.replaceAll('|', '\\|'),
    ].join(' | '),
  );
  return [
    '| path | flag | env | default | what |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

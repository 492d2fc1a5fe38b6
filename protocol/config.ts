import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isUnknownKeyMessage, unknownKeyMessage, unknownKeys } from './config-keys.ts';
import type { Setting } from './settings.ts';

/**
 * Config for every service comes from, in rising precedence: schema defaults, a YAML/JSON file, env vars,
 * then command-line flags. Each service declares one zod schema and its settings (settings.ts), which give
 * the env and flag maps; this module merges and validates, and a bad value is refused with the field's path
 * and the env var or flag that set it.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Env values are strings: this accepts the usual spellings of a boolean and refuses the rest. */
export const envBoolean = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(lower)) return false;
  return value;
}, z.boolean());

/** A comma-separated env value or a list from the file. */
export const envList = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : value,
  z.array(z.string()),
);

export const portSchema = z.coerce.number().int().min(0).max(65_535);

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function setPath(target: Plain, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys.at(-1)!] = value;
}

export function readConfigFile(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let value: unknown;
  try {
    value = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (!isPlain(value)) throw new ConfigError(`config file ${file} must hold a mapping at the top level`);
  return value;
}

export interface ConfigSources {
  /** Optional YAML or JSON file. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Env var name → dotted config path, e.g. `{ CW_INFLUX_URL: 'influx.url' }`. */
  envMap?: Record<string, string>;
  /** Commander's parsed options, read through `flagMap`; unset ones are undefined and change nothing. */
  flags?: object;
  /** Commander option attribute → dotted config path, e.g. `{ batchSize: 'batch.size' }` for `--batch-size`. */
  flagMap?: Record<string, string>;
  /** A partial config given in code (tests, `cradlewatch up`), over everything else. */
  overrides?: Plain;
}

/** `batchSize` → `--batch-size`: how commander derived the attribute from the flag. */
function flagName(attribute: string): string {
  return `--${attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Where each set value came from, by dotted path: a later source takes a whole subtree from an earlier one. */
class Origins {
  private readonly by = new Map<string, string>();

  set(path: string, origin: string): void {
    for (const key of this.by.keys()) if (key.startsWith(`${path}.`)) this.by.delete(key);
    this.by.set(path, origin);
  }

  leaves(value: unknown, path: string, origin: string): void {
    if (value === undefined) return;
    if (isPlain(value) || Array.isArray(value)) {
      for (const [key, child] of Object.entries(value))
        this.leaves(child, path ? `${path}.${key}` : key, origin);
    } else this.set(path, origin);
  }

  /** The source of the value at `path`, of the nearest enclosing value set, or of what was set inside it. */
  of(path: (string | number)[]): string | undefined {
    for (let n = path.length; n > 0; n -= 1) {
      const found = this.by.get(path.slice(0, n).join('.'));
      if (found) return found;
    }
    const prefix = `${path.join('.')}.`;
    for (const [key, origin] of this.by) if (key.startsWith(prefix)) return origin;
    return undefined;
  }
}

/** Password hashes count: an scrypt hash printed is a hash to crack offline. */
const SECRET_KEY = /(password|passwordHash|token|secret|key|authorization)$/i;

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let node = root;
  for (const key of path) node = isPlain(node) || Array.isArray(node) ? (node as Plain)[key] : undefined;
  return node;
}

function quote(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}` : (shown[0] ?? '');
}

const article = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);

/** zod's wording, made to say what would be accepted: the allowed values of an enum, each union option. */
function explain(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_value') return `expected ${quote(issue.values)}`;
  // zod's own wording starts so; a schema's custom message is kept as written.
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input'))
    return value === undefined ? 'required' : `expected ${article(issue.expected)}`;
  if (issue.code === 'invalid_union') {
    // A discriminated union names its tags; a plain one says what each option wanted.
    const tags = (issue as { options?: unknown[] }).options;
    if (tags) return `expected ${quote(tags)}`;
    const options = issue.errors.map((branch) => {
      const first = branch.find((i) => i.path.length === 0) ?? branch[0];
      return first ? explain(first, value).replace(/^expected /, '') : 'something else';
    });
    return `expected ${[...new Set(options)].join(' or ')}`;
  }
  return issue.message;
}

/** The file, env and flags are where an operator makes mistakes; refuse what they cannot mean. */
export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources = {}): z.infer<S> {
  const origins = new Origins();
  const fromFile: Plain = sources.file ? readConfigFile(sources.file) : {};
  origins.leaves(fromFile, '', `file ${sources.file}`);
  let merged: Plain = structuredClone(fromFile);
  const howToSet = new Map<string, string[]>();
  const set = (path: string, value: unknown, origin: string) => {
    howToSet.set(path, [...(howToSet.get(path) ?? []), origin]);
    if (value === undefined) return;
    setPath(merged, path, value);
    origins.set(path, origin);
  };
  for (const [name, path] of Object.entries(sources.envMap ?? {}))
    set(path, (sources.env ?? process.env)[name], `env ${name}`);
  for (const [attribute, path] of Object.entries(sources.flagMap ?? {}))
    set(path, (sources.flags as Plain | undefined)?.[attribute], flagName(attribute));
  // Code knows what it passed: its values get no source label, and replace what they cover.
  if (sources.overrides) {
    merged = deepMerge(merged, sources.overrides);
    origins.leaves(sources.overrides, '', '');
  }

  /** One line per problem: the path, where its value came from (or how to set it), what was wrong. */
  const describe = (path: (string | number)[], message: string) => {
    const value = valueAt(merged, path);
    const origin = origins.of(path) || undefined;
    const ways = howToSet.get(path.join('.'));
    const source = origin ?? (ways && value === undefined ? `not set; ${ways.join(' or ')}` : undefined);
    const secret = path.some((k) => SECRET_KEY.test(String(k)));
    const got =
      origin &&
      !isUnknownKeyMessage(message) &&
      value !== undefined &&
      !isPlain(value) &&
      !Array.isArray(value) &&
      !secret
        ? ` (got ${JSON.stringify(value)})`
        : '';
    return `  ${path.join('.') || '(root)'}${source ? ` (${source})` : ''}: ${message}${got}`;
  };
  // Only the file can hold a key no source declares: env and flags come from fixed maps.
  const unknown = unknownKeys(schema, fromFile);
  const result = schema.safeParse(merged);
  if (result.success && unknown.length === 0) return result.data;
  // A strict object's own refusal of a key said once, as the file's unknown key.
  const named = new Set(unknown.map((k) => k.path.join('.')));
  const issues = (result.success ? [] : result.error.issues).filter(
    (issue) =>
      issue.code !== 'unrecognized_keys' || !issue.keys.every((k) => named.has([...issue.path, k].join('.'))),
  );
  const lines = [
    ...unknown.map(({ path, known }) => describe(path, unknownKeyMessage(known))),
    ...issues.map((issue) => {
      const path = issue.path as (string | number)[];
      return describe(path, explain(issue, valueAt(merged, path)));
    }),
  ];
  throw new ConfigError(`invalid config${sources.file ? ` (${sources.file})` : ''}:\n${lines.join('\n')}`);
}

/**
 * A URL with its credentials masked: the password of `user:pass@`, and query parameters named like a
 * secret (a WeCom robot's `key`, DingTalk's `access_token`, a signature). Other strings are returned as is.
 */
function maskUrl(value: string, secretKey: RegExp): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  let masked = false;
  if (url.password) {
    url.password = '***';
    masked = true;
  }
  for (const name of [...url.searchParams.keys()]) {
    if (secretKey.test(name) || /^(sign|signature|access_token)$/i.test(name)) {
      url.searchParams.set(name, '***');
      masked = true;
    }
  }
  return masked ? url.toString() : value;
}

/** Replaces secrets with `***` for `--print-config` and start-up logs, inside URLs too. */
export function maskSecrets(value: unknown, secretKey = SECRET_KEY): unknown {
  if (typeof value === 'string') return maskUrl(value, secretKey);
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, secretKey));
  if (!isPlain(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      secretKey.test(k) && v !== undefined && v !== '' ? '***' : maskSecrets(v, secretKey),
    ]),
  );
}

/** The effective config as `--print-config` shows it: JSON, secrets masked, maps as objects. */
export function printableConfig(config: unknown): string {
  const plain: unknown = JSON.parse(
    JSON.stringify(config, (_key, value: unknown) =>
      value instanceof Map ? Object.fromEntries(value) : value,
    ),
  );
  return JSON.stringify(maskSecrets(plain), null, 2);
}

/** How a service reaches the broker; the client id is fixed so its persistent session survives restarts. */
export function mqttClientConfigSchema(defaultClientId: string) {
  return z.object({
    url: z
      .string()
      // A comma-separated list names the brokers of one cluster (lib/mqtt-connect.ts).
      .regex(
        /^(mqtts?|tcp|ssl):\/\/[^,\s]+(\s*,\s*(mqtts?|tcp|ssl):\/\/[^,\s]+)*$|^wss?:\/\/\S+$/,
        'expected mqtt://host:port, or a comma-separated list of them',
      )
      .default('mqtt://127.0.0.1:1883'),
    clientId: z.string().min(1).max(128).default(defaultClientId),
    username: z.string().optional(),
    password: z.string().optional(),
    keepaliveS: z.coerce.number().int().positive().default(30),
  });
}

/**
 * The broker connection's settings; `prefix` (e.g. `CW_INGEST`) names the service's own client id variable,
 * and `clientIdDefault` shows a default the schema computes where it runs.
 */
export function mqttSettings(prefix: string, clientIdDefault?: string): Setting[] {
  return [
    {
      path: 'mqtt.url',
      env: 'CW_MQTT_URL',
      flag: '--mqtt-url <url>',
      help: "broker URL, or a comma-separated list of a cluster's brokers",
    },
    { path: 'mqtt.username', env: 'CW_MQTT_USERNAME', help: 'MQTT login of this service' },
    { path: 'mqtt.password', env: 'CW_MQTT_PASSWORD', help: 'its password' },
    {
      path: 'mqtt.clientId',
      env: `${prefix}_CLIENT_ID`,
      flag: '--client-id <id>',
      help: 'fixed MQTT client id of the persistent session',
      ...(clientIdDefault ? { defaultText: clientIdDefault } : {}),
    },
  ];
}

/** Every service that reads the registry takes it from the same variable and flag. */
export const FLEET_FILE_SETTING: Setting = {
  path: 'fleetFile',
  env: 'CW_FLEET_FILE',
  flag: '--fleet <file>',
  help: 'fleet registry (fleet.yaml)',
};

/** Milliseconds, or `off` to switch the clock-skew check off (replays run ahead of the wall clock). */
export const clockSkewSchema = z.preprocess(
  (value) => (value === 'off' || value === 'null' || value === 'none' ? null : value),
  z.union([z.null(), z.coerce.number().int().positive()]),
);

/** `maxClockSkewMs` of a service reading device timestamps; `prefix` as for mqttSettings. */
export function clockSkewSetting(prefix: string): Setting {
  return {
    path: 'maxClockSkewMs',
    env: `${prefix}_MAX_SKEW_MS`,
    flag: '--max-skew <ms>',
    help: 'allowed device clock skew in ms, or "off" for replays',
  };
}

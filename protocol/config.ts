import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Config for every service comes from, in rising precedence: schema defaults, a YAML/JSON file, env vars,
 * then command-line flags. Each service declares one zod schema and an env map; this module merges and
 * validates, and a bad value is refused with the field's path and the env var that sets it.
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
  /** Already-parsed command-line flags, as a partial config. */
  overrides?: Plain;
}

export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources = {}): z.infer<S> {
  let merged: Plain = sources.file ? readConfigFile(sources.file) : {};
  const fromEnv: Plain = {};
  const envOf = new Map<string, string>();
  for (const [name, path] of Object.entries(sources.envMap ?? {})) {
    envOf.set(path, name);
    const value = (sources.env ?? process.env)[name];
    if (value !== undefined) setPath(fromEnv, path, value);
  }
  merged = deepMerge(merged, fromEnv);
  if (sources.overrides) merged = deepMerge(merged, sources.overrides);
  const result = schema.safeParse(merged);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.join('.');
    const env = envOf.get(path);
    return `  ${path || '(root)'}${env ? ` (env ${env})` : ''}: ${issue.message}`;
  });
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
export function maskSecrets(
  value: unknown,
  secretKey = /(password|token|secret|key|authorization)$/i,
): unknown {
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

/** How a service reaches the broker; the client id is fixed so its persistent session survives restarts. */
export function mqttClientConfigSchema(defaultClientId: string) {
  return z.object({
    url: z
      .string()
      .regex(/^(mqtts?|tcp|ssl|wss?):\/\//, 'expected mqtt://host:port')
      .default('mqtt://127.0.0.1:1883'),
    clientId: z.string().min(1).max(128).default(defaultClientId),
    username: z.string().optional(),
    password: z.string().optional(),
    keepaliveS: z.coerce.number().int().positive().default(30),
  });
}

/** Milliseconds, or `off` to switch the clock-skew check off (replays run ahead of the wall clock). */
export const clockSkewSchema = z.preprocess(
  (value) => (value === 'off' || value === 'null' || value === 'none' ? null : value),
  z.union([z.null(), z.coerce.number().int().positive()]),
);

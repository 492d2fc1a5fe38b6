import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBoolean, portSchema } from './config.ts';
import { type Setting, addSettingOptions, defaultAt, loadSettings, settingsTable } from './settings.ts';

const schema = z
  .object({
    http: z.object({ port: portSchema.default(9464), host: z.string().optional() }).prefault({}),
    // A preprocess step and a transform around an object, as the services' schemas have.
    spool: z.preprocess(
      (v) => v ?? {},
      z
        .object({ dir: z.string().default('./spool'), maxBytes: z.coerce.number().default(1024) })
        .transform((s) => ({ ...s, half: s.maxBytes / 2 })),
    ),
    store: z.discriminatedUnion('api', [
      z.object({ api: z.literal('a'), url: z.string() }),
      z.object({ api: z.literal('b'), path: z.string() }),
    ]),
    fleetFile: z.string().min(1),
    dryRun: envBoolean.default(false),
  })
  .refine(() => true);

const SETTINGS: Setting[] = [
  { path: 'http.port', env: 'CW_T_HTTP_PORT', flag: '--http-port <port>', help: 'port | 0 for any' },
  { path: 'http.host', env: 'CW_T_HTTP_HOST', help: 'listen address' },
  { path: 'spool.dir', flag: '--spool-dir <dir>', help: 'spool directory' },
  { path: 'fleetFile', env: 'CW_T_FLEET', flag: '--fleet <file>', help: 'fleet registry' },
  { path: 'dryRun', flag: '--dry-run', help: 'no broker' },
];

function parsed(argv: string[]): Record<string, unknown> {
  const command = addSettingOptions(new Command('t').exitOverride(), schema, SETTINGS);
  return command.parse(argv, { from: 'user' }).opts();
}

describe('settings declared once', () => {
  it('reads a default through prefaults, pipes and transforms, and none where the schema has none', () => {
    expect(defaultAt(schema, 'http.port')).toBe(9464);
    expect(defaultAt(schema, 'spool.maxBytes')).toBe(1024);
    expect(defaultAt(schema, 'http.host')).toBeUndefined();
    expect(defaultAt(schema, 'store.path')).toBeUndefined();
    expect(defaultAt(schema, 'dryRun')).toBe(false);
    expect(() => defaultAt(schema, 'spool.dri')).toThrow(
      'setting spool.dri: the config schema has no such key',
    );
  });

  it('registers each flag with its env var and default in the help, beside --config and --print-config', () => {
    const command = addSettingOptions(new Command('t'), schema, SETTINGS);
    const help = Object.fromEntries(command.options.map((o) => [o.long, o.description]));
    expect(help).toEqual({
      '--config': 'YAML or JSON config file',
      '--http-port': 'port | 0 for any (env CW_T_HTTP_PORT; default 9464)',
      '--spool-dir': 'spool directory (default ./spool)',
      '--fleet': 'fleet registry (env CW_T_FLEET)',
      '--dry-run': 'no broker (default false)',
      '--print-config': 'print the merged config (secrets masked) and exit',
    });
  });

  it('loads env under flags through the derived maps', () => {
    const flags = parsed(['--http-port', '1999', '--spool-dir', '/tmp/s', '--dry-run']);
    const config = loadSettings(schema, SETTINGS, {
      flags,
      env: { CW_T_HTTP_PORT: '7', CW_T_HTTP_HOST: '0.0.0.0', CW_T_FLEET: 'fleet.yaml' },
      overrides: { store: { api: 'a', url: 'x' } },
    });
    expect(config).toMatchObject({
      http: { port: 1999, host: '0.0.0.0' },
      spool: { dir: '/tmp/s', half: 512 },
      fleetFile: 'fleet.yaml',
      dryRun: true,
    });
  });

  it('says how a missing value is set, by env var and by flag', () => {
    const load = () =>
      loadSettings(schema, SETTINGS, { env: {}, overrides: { store: { api: 'a', url: 'x' } } });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow('fleetFile (not set; env CW_T_FLEET or --fleet): required');
  });

  it('makes the README table, a pipe inside a cell escaped', () => {
    expect(settingsTable(schema, SETTINGS).split('\n')).toEqual([
      '| path | flag | env | default | what |',
      '|---|---|---|---|---|',
      '| `http.port` | `--http-port <port>` | `CW_T_HTTP_PORT` | `9464` | port \\| 0 for any |',
      '| `http.host` |  | `CW_T_HTTP_HOST` |  | listen address |',
      '| `spool.dir` | `--spool-dir <dir>` |  | `./spool` | spool directory |',
      '| `fleetFile` | `--fleet <file>` | `CW_T_FLEET` |  | fleet registry |',
      '| `dryRun` | `--dry-run` |  | `false` | no broker |',
    ]);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBoolean, envList, loadConfig, maskSecrets, portSchema } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'cw-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const schema = z.object({
  name: z.string().default('site'),
  http: z
    .object({ port: portSchema.default(8080), host: z.string().default('127.0.0.1') })
    .default({ port: 8080, host: '127.0.0.1' }),
  debug: envBoolean.default(false),
  centers: envList.default([]),
  influx: z.object({ url: z.url(), token: z.string().optional() }),
});

const ENV = {
  CW_NAME: 'name',
  CW_HTTP_PORT: 'http.port',
  CW_DEBUG: 'debug',
  CW_CENTERS: 'centers',
  CW_INFLUX_URL: 'influx.url',
  CW_INFLUX_TOKEN: 'influx.token',
};

function failure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses schema defaults under a file, env over the file, and overrides over env', () => {
    const yaml = file(
      'site.yaml',
      'name: from-file\nhttp:\n  port: 9000\ninflux:\n  url: http://file:8086\n',
    );
    expect(loadConfig(schema, { file: yaml, env: {}, envMap: ENV })).toMatchObject({
      name: 'from-file',
      http: { port: 9000, host: '127.0.0.1' },
      influx: { url: 'http://file:8086' },
    });
    const env = { CW_HTTP_PORT: '9100', CW_INFLUX_URL: 'http://env:8086' };
    const fromEnv = loadConfig(schema, { file: yaml, env, envMap: ENV });
    expect(fromEnv.http).toEqual({ port: 9100, host: '127.0.0.1' });
    expect(fromEnv.name).toBe('from-file');
    expect(fromEnv.influx.url).toBe('http://env:8086');
    // Commander leaves unset flags undefined: they must not blank what the file or env said.
    const overrides = { http: { port: 9200, host: undefined }, name: undefined };
    const all = loadConfig(schema, { file: yaml, env, envMap: ENV, overrides });
    expect(all.http.port).toBe(9200);
    expect(all.name).toBe('from-file');
  });

  it('reads JSON files and treats an empty file as no settings', () => {
    const json = file(
      'site.json',
      JSON.stringify({ influx: { url: 'http://json:8086' }, centers: ['a', 'b'] }),
    );
    expect(loadConfig(schema, { file: json, env: {} })).toMatchObject({
      centers: ['a', 'b'],
      influx: { url: 'http://json:8086' },
    });
    const empty = file('empty.yaml', '');
    expect(
      loadConfig(schema, { file: empty, env: {}, overrides: { influx: { url: 'http://x:1' } } }).name,
    ).toBe('site');
  });

  it('refuses a bad value naming the field and the env var that sets it', () => {
    const error = failure(() =>
      loadConfig(schema, { env: { CW_HTTP_PORT: '70000', CW_INFLUX_URL: 'not a url' }, envMap: ENV }),
    );
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(/^invalid config:/);
    expect(error.message).toMatch(/http\.port \(env CW_HTTP_PORT\): .*65535/);
    expect(error.message).toMatch(/influx\.url \(env CW_INFLUX_URL\): /);
  });

  it('names the file and a missing required field', () => {
    const yaml = file('missing.yaml', 'name: x\n');
    const error = failure(() => loadConfig(schema, { file: yaml, env: {}, envMap: ENV }));
    expect(error.message).toContain(`(${yaml})`);
    expect(error.message).toMatch(/influx: /);
  });

  it('refuses an unreadable, unparsable or non-mapping file with a ConfigError', () => {
    expect(failure(() => loadConfig(schema, { file: join(dir, 'nope.yaml') })).message).toMatch(
      /cannot read config file .*ENOENT/,
    );
    expect(failure(() => loadConfig(schema, { file: file('bad.yaml', 'a: [1, 2\n') })).message).toMatch(
      /is not valid YAML/,
    );
    expect(failure(() => loadConfig(schema, { file: file('bad.json', '{"a":') })).message).toMatch(
      /is not valid JSON/,
    );
    expect(failure(() => loadConfig(schema, { file: file('list.yaml', '- 1\n- 2\n') })).message).toMatch(
      /mapping at the top level/,
    );
  });

  it('reads process.env when no env is given', () => {
    process.env.CW_CONFIG_TEST_URL = 'http://process-env:8086';
    try {
      expect(loadConfig(schema, { envMap: { CW_CONFIG_TEST_URL: 'influx.url' } }).influx.url).toBe(
        'http://process-env:8086',
      );
    } finally {
      delete process.env.CW_CONFIG_TEST_URL;
    }
  });
});

describe('loadConfig errors an operator can act on', () => {
  const nested = z.object({
    batch: z.object({ size: portSchema.default(1) }).prefault({}),
    accounts: z.array(z.object({ name: z.string(), role: z.enum(['ingest', 'rules']) })).default([]),
    influx: z
      .discriminatedUnion('api', [
        z.object({ api: z.literal('v1'), database: z.string() }),
        z.object({ api: z.literal('v2'), bucket: z.string() }),
      ])
      .optional(),
    speed: z.union([z.literal('max'), z.coerce.number().positive()]).default(1),
    labels: z.record(z.string(), z.object({ colour: z.string() })).default({}),
    extra: z.looseObject({ known: z.string().optional() }).optional(),
    strict: z.strictObject({ a: z.number().optional() }).optional(),
    password: z.string().min(8).optional(),
  });
  const flagMap = { batchSize: 'batch.size', speed: 'speed', password: 'password' };
  const envMap = { CW_BATCH_SIZE: 'batch.size', CW_SPEED: 'speed' };
  const load = (sources: Parameters<typeof loadConfig>[1]) =>
    failure(() => loadConfig(nested, { env: {}, envMap, flagMap, ...sources })).message;

  it('refuses a misspelt key in the file by its full path, listing the keys that exist there', () => {
    const yaml = file(
      'typos.yaml',
      [
        'batchh: 3',
        'batch:',
        '  sizee: 4',
        'accounts:',
        '  - { name: a, role: rules, rolee: x }',
        'influx: { api: v1, database: d, bucket: b }',
        'labels: { hot: { colour: red, color: red } }',
        'extra: { anything: 1 }',
        'strict: { b: 1 }',
      ].join('\n'),
    );
    const lines = load({ file: yaml }).split('\n').slice(1);
    expect(lines).toEqual([
      `  batchh (file ${yaml}): unknown key; expected one of batch, accounts, influx, speed, labels, extra, strict, password`,
      `  batch.sizee (file ${yaml}): unknown key; expected one of size`,
      `  accounts.0.rolee (file ${yaml}): unknown key; expected one of name, role`,
      `  influx.bucket (file ${yaml}): unknown key; expected one of api, database`,
      `  labels.hot.color (file ${yaml}): unknown key; expected one of colour`,
      `  strict.b (file ${yaml}): unknown key; expected one of a`,
    ]);
  });

  it('says a bad value came from a flag, not from the env var that maps to the same field', () => {
    const message = load({ env: { CW_BATCH_SIZE: '5' }, flags: { batchSize: 'big' } });
    expect(message).toContain('  batch.size (--batch-size): expected a number (got "big")');
    expect(message).not.toContain('CW_BATCH_SIZE');
    expect(load({ env: { CW_BATCH_SIZE: 'big' } })).toContain('batch.size (env CW_BATCH_SIZE)');
    const yaml = file('bad-size.yaml', 'batch: { size: 70000 }');
    expect(load({ file: yaml })).toContain(`batch.size (file ${yaml}): Too big`);
    // A flag left unset changes nothing: the env value stands and is the one named.
    expect(load({ env: { CW_BATCH_SIZE: 'big' }, flags: { batchSize: undefined } })).toContain(
      'env CW_BATCH_SIZE',
    );
  });

  it('lists the allowed values of an enum, a union and a discriminated union', () => {
    expect(load({ flags: { speed: 'fast' } })).toContain(
      '  speed (--speed): expected "max" or a number (got "fast")',
    );
    const yaml = file('enum.yaml', 'accounts: [{ name: a, role: admin }]\ninflux: { api: v3 }');
    const message = load({ file: yaml });
    expect(message).toContain(`accounts.0.role (file ${yaml}): expected "ingest" or "rules" (got "admin")`);
    expect(message).toContain(`influx.api (file ${yaml}): expected "v1" or "v2" (got "v3")`);
  });

  it('says how to set a required value that no source gave', () => {
    const schema = z.object({ fleetFile: z.string() });
    const message = failure(() =>
      loadConfig(schema, { env: {}, envMap: { CW_FLEET: 'fleetFile' }, flagMap: { fleet: 'fleetFile' } }),
    ).message;
    expect(message).toBe('invalid config:\n  fleetFile (not set; env CW_FLEET or --fleet): required');
  });

  it('never echoes a secret it refuses', () => {
    const message = load({ flags: { password: 'hunter2' } });
    expect(message).toContain('password (--password): Too small');
    expect(message).not.toContain('hunter2');
  });

  it('accepts what the schema declares, from every source, with flags over env over file', () => {
    const yaml = file(
      'good.yaml',
      'batch: { size: 1 }\nextra: { anything: 1 }\nlabels: { hot: { colour: red } }',
    );
    const config = loadConfig(nested, {
      file: yaml,
      env: { CW_SPEED: 'max', CW_BATCH_SIZE: '2' },
      envMap,
      flags: { batchSize: '3', unrelated: 'x' },
      flagMap,
    });
    expect(config).toMatchObject({ batch: { size: 3 }, speed: 'max', labels: { hot: { colour: 'red' } } });
  });
});

describe('env helpers', () => {
  it.each([
    ['1', true],
    ['true', true],
    [' YES ', true],
    ['on', true],
    ['0', false],
    ['false', false],
    ['No', false],
    ['off', false],
    ['', false],
    [true, true],
    [false, false],
  ])('envBoolean reads %j as %s', (input, expected) => {
    expect(envBoolean.parse(input)).toBe(expected);
  });

  it.each(['maybe', '2', 'y', 1, null])('envBoolean refuses %j', (input) => {
    expect(envBoolean.safeParse(input).success).toBe(false);
  });

  it('envBoolean through loadConfig names the env var of a bad value', () => {
    const error = failure(() =>
      loadConfig(schema, { env: { CW_DEBUG: 'maybe', CW_INFLUX_URL: 'http://x:1' }, envMap: ENV }),
    );
    expect(error.message).toMatch(/debug \(env CW_DEBUG\)/);
  });

  it('envList splits commas, trims and drops empties; lists from a file pass through', () => {
    expect(envList.parse(' a, b ,,c ')).toEqual(['a', 'b', 'c']);
    expect(envList.parse('')).toEqual([]);
    expect(envList.parse(['x'])).toEqual(['x']);
  });

  it('portSchema coerces env strings and refuses what is not a port', () => {
    expect(portSchema.parse('1883')).toBe(1883);
    expect(portSchema.safeParse('65536').success).toBe(false);
    expect(portSchema.safeParse('18.5').success).toBe(false);
    expect(portSchema.safeParse('http').success).toBe(false);
  });
});

describe('maskSecrets', () => {
  it('masks passwords, tokens, secrets and keys at any depth, leaving empty ones visible', () => {
    expect(
      maskSecrets({
        influx: { url: 'http://x', token: 't0k', password: '' },
        webhooks: [{ url: 'http://hook', secret: 's' }],
        apiKey: 'k',
        accounts: [{ username: 'rules', passwordHash: 'scrypt$…' }],
        name: 'site',
      }),
    ).toEqual({
      influx: { url: 'http://x', token: '***', password: '' },
      webhooks: [{ url: 'http://hook', secret: '***' }],
      apiKey: '***',
      accounts: [{ username: 'rules', passwordHash: '***' }],
      name: 'site',
    });
  });

  it('masks credentials inside URLs: robot keys, access tokens, signatures, user passwords, auth headers', () => {
    expect(
      maskSecrets({
        webhooks: [
          {
            url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123',
            headers: { Authorization: 'Bearer x' },
          },
          { url: 'https://oapi.dingtalk.com/robot/send?access_token=t0k&timestamp=1&sign=s1g' },
        ],
        mqtt: { url: 'mqtt://rules:pa55@127.0.0.1:1883' },
        fleetFile: './fleet.yaml',
      }),
    ).toEqual({
      webhooks: [
        {
          url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***',
          headers: { Authorization: '***' },
        },
        { url: 'https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***' },
      ],
      mqtt: { url: 'mqtt://rules:***@127.0.0.1:1883' },
      fleetFile: './fleet.yaml',
    });
  });
});

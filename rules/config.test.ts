import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../protocol/config.ts';
import { silentLogger } from '../lib/logger.ts';
import { freePort } from '../lib/net.ts';
import { loadRulesConfig, rulesServiceConfigSchema } from './config.ts';
import { startRules } from './service.ts';
import { workDir } from '../test/support/rules/service.ts';

const base = { fleetFile: 'fleet.yaml', channels: { history: { enabled: false } } };
const refused = (overrides: Record<string, unknown>) => {
  try {
    loadRulesConfig({ overrides, env: {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('config was accepted');
};

describe('rules config', () => {
  it('takes docs/design.md defaults and applies per-centre overrides over them', () => {
    const config = loadRulesConfig({
      overrides: {
        ...base,
        rules: { defaults: { prone: { holdS: 45 } }, centers: { ca: { side: { holdS: 90 } } } },
      },
      env: {},
    });
    expect(config.rules.defaults.prone.holdS).toBe(45);
    expect(config.rules.defaults.roomHot).toMatchObject({
      warnAbove: 24,
      criticalAbove: 28,
      clearAtOrBelow: 23.5,
    });
    expect(config.rules.centers.get('ca')).toMatchObject({ prone: { holdS: 45 }, side: { holdS: 90 } });
  });

  it('gives a partition its own session id and journal unless they are set, as ingest reads i/n', () => {
    const p = loadRulesConfig({ overrides: base, env: { CW_RULES_PARTITION: '1/4' } });
    expect(p.partition).toEqual({ index: 1, count: 4 });
    expect(p.mqtt.clientId).toBe('cradlewatch-rules-p1of4');
    expect(p.journalDir).toBe('./data/rules/p1of4');
    const set = loadRulesConfig({
      overrides: { ...base, partition: '0/2', mqtt: { clientId: 'r-a' }, journalDir: '/j/a' },
      env: {},
    });
    expect([set.mqtt.clientId, set.journalDir]).toEqual(['r-a', '/j/a']);
    const listed = loadRulesConfig({ overrides: base, env: { CW_RULES_CENTERS: 'c1, c7' } });
    expect([listed.centers, listed.mqtt.clientId]).toEqual([['c1', 'c7'], 'cradlewatch-rules']);
  });

  it.each([
    [{ ...base, partition: '2/2' }, /partition: expected 0 <= i < n/],
    [{ ...base, partition: 'half' }, /partition: expected i\/n/],
    [{ ...base, centers: ['c1'], partition: '0/2' }, /partition: give centers or partition, not both/],
  ])('refuses a bad centre selection, naming the field (%o)', (overrides, message) => {
    expect(refused(overrides)).toMatch(message);
  });

  it.each([
    [{ ...base, rules: { centers: { ca: { prone: { holdS: -1 } } } } }, 'rules.centers.ca.prone.holdS'],
    [
      { ...base, rules: { defaults: { roomHot: { clearAtOrBelow: 25 } } } },
      'rules.defaults.roomHot.clearAtOrBelow',
    ],
    [
      { ...base, rules: { defaults: { lowBattery: { below: 30 } } } },
      'rules.defaults.lowBattery.clearAtOrAbove',
    ],
    [{ channels: { history: { enabled: false } } }, 'fleetFile'],
    [{ fleetFile: 'f.yaml' }, 'channels.history.enabled'],
    [{ ...base, clock: { speed: 10 } }, 'clock.speed'],
    [{ ...base, clock: { mode: 'sundial' } }, 'clock.mode'],
    [{ ...base, mqtt: { url: 'http://x' } }, 'mqtt.url'],
  ])('refuses %j naming %s', (overrides, field) => {
    expect(refused(overrides)).toContain(field);
  });

  it('names the env var that set a bad value', () => {
    expect(() => loadRulesConfig({ overrides: base, env: { CW_RULES_SPEED: 'fast' } })).toThrow(
      /clock\.speed \(env CW_RULES_SPEED\)/,
    );
  });

  it('refuses an override for a centre the registry does not have', async () => {
    const { fleetFile } = workDir();
    const config = rulesServiceConfigSchema.parse({ ...base, fleetFile, rules: { centers: { zz: {} } } });
    await expect(startRules(config, silentLogger)).rejects.toThrow(/rules\.centers\.zz: no such centre/);
  });

  it('says which broker it cannot reach', async () => {
    const { fleetFile } = workDir();
    const port = await freePort();
    const config = rulesServiceConfigSchema.parse({
      ...base,
      fleetFile,
      mqtt: { url: `mqtt://127.0.0.1:${port}` },
    });
    await expect(startRules(config, silentLogger)).rejects.toThrow(
      `cannot connect to MQTT mqtt://127.0.0.1:${port}`,
    );
  });

  it('the CLI exits 2 with the field named', () => {
    const run = spawnSync(
      process.execPath,
      ['bin/cradlewatch.mjs', 'rules', '--clock', 'sundial', '--fleet', 'x'],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('clock.mode');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../protocol/config.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import { FleetWatcher, readFleet } from './fleet-file.ts';
import { silentLogger } from './logger.ts';
import { waitFor } from './net.ts';

const dir = mkdtempSync(join(tmpdir(), 'cw-fleet-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fleet = (devices: string[]) => ({
  centers: [{ id: 'sunny', name: 'Sunny' }],
  rooms: [{ id: 'nap-1', center: 'sunny', name: 'Nap 1' }],
  devices: devices.map((id) => ({ id, kind: 'room', center: 'sunny', room: 'nap-1' })),
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const errorOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
};

describe('readFleet', () => {
  it('reads YAML and JSON registries', () => {
    expect(readFleet(write('fleet.yaml', stringify(fleet(['env-1'])))).devices.has('env-1')).toBe(true);
    expect(readFleet(write('fleet.json', JSON.stringify(fleet(['env-2'])))).devices.has('env-2')).toBe(true);
  });

  it('refuses a missing, unparsable or invalid registry with a ConfigError naming the problem', () => {
    const missing = errorOf(() => readFleet(join(dir, 'absent.yaml')));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toMatch(/cannot read fleet registry .*ENOENT/);
    expect(errorOf(() => readFleet(write('broken.json', '{'))).message).toMatch(/does not parse/);
    const invalid = errorOf(() => readFleet(write('invalid.yaml', stringify(fleet(['Bad_Id'])))));
    expect(invalid).toBeInstanceOf(ConfigError);
    expect(invalid.message).toMatch(/is invalid: devices\.0\.id: /);
  });
});

describe('FleetWatcher', () => {
  it('reloads on change and keeps the last good registry when an edit is invalid', async () => {
    const file = write('watched.yaml', stringify(fleet(['env-1'])));
    const watcher = new FleetWatcher(file, silentLogger).start();
    const seen: FleetIndex[] = [];
    watcher.onChange((f) => seen.push(f));
    try {
      writeFileSync(file, stringify(fleet(['env-1', 'env-2'])));
      await waitFor(() => watcher.current.devices.has('env-2'), { timeoutMs: 5_000, what: 'reload' });
      expect(seen.at(-1)?.devices.size).toBe(2);
      writeFileSync(file, 'centers: [oops');
      // The bad edit must not replace the registry; a later good edit still loads.
      await new Promise((r) => setTimeout(r, 500));
      expect(watcher.current.devices.size).toBe(2);
      writeFileSync(file, stringify(fleet(['env-3'])));
      await waitFor(() => watcher.current.devices.has('env-3'), { timeoutMs: 5_000, what: 'second reload' });
    } finally {
      watcher.close();
    }
  });
});

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SETUP = join(import.meta.dirname, '..', 'scripts', 'setup.mjs');

describe('scripts/setup.mjs', () => {
  it.each([
    ['npm start', []],
    ['npm test', ['--test']],
  ])('before %s, with everything installed, does nothing and says nothing', (_when, args) => {
    const result = spawnSync(process.execPath, [SETUP, ...args], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

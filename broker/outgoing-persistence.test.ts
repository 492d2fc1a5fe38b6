import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it("IndexedMemoryPersistence passes Aedes' abstract persistence suite (node:test)", () => {
  const run = spawnSync(
    process.execPath,
    // TAP asked for by name: the default reporter changed with Node 23 (spec output, `ℹ tests 50`), TAP's
    // summary lines did not.
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=tap',
      join(import.meta.dirname, 'outgoing-persistence.conformance.ts'),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const summary = Object.fromEntries(
    [...run.stdout.matchAll(/^# (tests|pass|fail) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]),
  );
  expect(summary, run.stdout.slice(-2_000) + run.stderr).toEqual({ tests: 50, pass: 50, fail: 0 });
  expect(run.status).toBe(0);
}, 60_000);

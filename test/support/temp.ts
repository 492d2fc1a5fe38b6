import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

// Removed when the importing test file's suites are done, after their own afterAll hooks have closed the
// services using them. Outside vitest (a bench script importing a fixture) the caller owns the directory.
if (process.env.VITEST) {
  const { afterAll } = await import('vitest');
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

/** A fresh directory under the temp dir that the test run removes (test/support/tmp-guard.ts checks). */
export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Caches programs keep in the temp dir on purpose, between runs: not a test's leftovers. */
const CACHES = [/^tsx-\d+$/, /^node-compile-cache$/];

/**
 * Gives the test run a temp directory of its own, as TMPDIR, which the test workers inherit, so what the
 * run leaves behind is told apart from what other programs put in /tmp at the same time. `finish()` removes
 * it and returns the names a test (or a process it started) left in it: a test cleans up after itself.
 */
export function isolateTmpdir(): { dir: string; finish: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'cw-run-'));
  // Searchable by others like /tmp itself: daemons that drop root (mosquitto) read files tests put here.
  chmodSync(dir, 0o755);
  process.env.TMPDIR = dir;
  return {
    dir,
    finish: () => {
      const left = readdirSync(dir)
        .filter((name) => !CACHES.some((cache) => cache.test(name)))
        .sort();
      rmSync(dir, { recursive: true, force: true });
      return left;
    },
  };
}

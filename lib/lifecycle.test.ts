import { describe, expect, it } from 'vitest';
import { finished, printed, spawnModule } from '../test/support/run-module.ts';

/** A process that installs exitOnSignals with the given close body, then says it is ready. */
function service(closeBody: string, graceMs = 10_000) {
  return spawnModule(`
    const { exitOnSignals } = await import('./lib/lifecycle.ts');
    const { createLogger } = await import('./lib/logger.ts');
    const keepAlive = setInterval(() => {}, 1_000);
    exitOnSignals(async () => { clearInterval(keepAlive); ${closeBody} }, createLogger(), ${graceMs});
    console.log('ready');
  `);
}

async function stop(closeBody: string, signal: NodeJS.Signals, graceMs?: number) {
  const child = service(closeBody, graceMs);
  const done = finished(child);
  await printed(child, 'ready');
  child.kill(signal);
  return done;
}

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });

describe('exitOnSignals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'closes on %s and exits 0 after the close finishes',
    async (signal) => {
      const { code, stdout } = await stop(
        `await new Promise((r) => setTimeout(r, 100)); console.log('closed');`,
        signal,
      );
      expect(code).toBe(0);
      expect(stdout).toContain('closed');
      expect(lines(stdout).map((l) => l.msg)).toEqual(['shutting down', 'stopped']);
    },
  );

  it('exits 1 when closing fails', async () => {
    const { code, stdout } = await stop(`throw new Error('disk gone');`, 'SIGTERM');
    expect(code).toBe(1);
    expect(stdout).toContain('shutdown failed');
    expect(stdout).toContain('disk gone');
  });

  it('exits 1 when closing overruns its grace period', async () => {
    const { code, stdout } = await stop('await new Promise(() => {});', 'SIGTERM', 300);
    expect(code).toBe(1);
    expect(stdout).toContain('shutdown overran its grace period');
  });

  it('a second Ctrl-C exits at once with 130', async () => {
    const child = service('await new Promise(() => {});');
    const done = finished(child);
    await printed(child, 'ready');
    child.kill('SIGINT');
    await printed(child, 'shutting down');
    child.kill('SIGINT');
    expect((await done).code).toBe(130);
  });
});

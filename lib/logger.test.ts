import { describe, expect, it } from 'vitest';
import { finished, spawnModule } from '../test/support/run-module.ts';

describe('createLogger', () => {
  it('writes JSON lines off a TTY with secrets redacted wherever a config or request is logged whole', async () => {
    const child = spawnModule(`
      const { createLogger } = await import('./lib/logger.ts');
      createLogger().child({ component: 'ingest' }).info({
        password: 'p1', token: 't1', passwordHash: 'scrypt$1',
        config: { influx: { url: 'http://influx', token: 't2', password: 'p2' } },
        req: { headers: { authorization: 'Bearer abc', host: 'h' } },
        device: { passwordHash: 'scrypt$2' },
      }, 'started');
    `);
    const { code, stdout } = await finished(child);
    expect(code).toBe(0);
    const line = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({
      component: 'ingest',
      msg: 'started',
      password: '***',
      token: '***',
      passwordHash: '***',
      config: { influx: { url: 'http://influx', token: '***', password: '***' } },
      req: { headers: { authorization: '***', host: 'h' } },
      device: { passwordHash: '***' },
    });
    expect(stdout).not.toMatch(/p1|t1|t2|p2|abc|scrypt/);
  });

  it('takes its level from CW_LOG_LEVEL', async () => {
    const code = `
      const { createLogger } = await import('./lib/logger.ts');
      const log = createLogger();
      log.debug('debug line');
      log.warn('warn line');
    `;
    const quiet = await finished(spawnModule(code, { CW_LOG_LEVEL: 'warn' }));
    expect(quiet.stdout).toContain('warn line');
    expect(quiet.stdout).not.toContain('debug line');
    const chatty = await finished(spawnModule(code, { CW_LOG_LEVEL: 'debug' }));
    expect(chatty.stdout).toContain('debug line');
  });
});

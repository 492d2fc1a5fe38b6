import { describe, expect, it } from 'vitest';
import { finished, spawnModule } from '../test/support/run-module.ts';
import { componentLogger, forService, silentLogger } from './logger.ts';

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

  it('names the service once and the component once on every line, alone or under `cradlewatch up`', async () => {
    const child = spawnModule(`
      const { componentLogger, createLogger, forService } = await import('./lib/logger.ts');
      componentLogger(createLogger({ service: 'ingest' }), 'pipeline').info('alone');
      componentLogger(forService(createLogger(), 'rules'), 'http').info('shared');
      forService(createLogger(), 'broker').info('no component');
    `);
    const { code, stdout } = await finished(child);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(
      lines.map((l) => [(l.match(/"service":/g) ?? []).length, (l.match(/"component":/g) ?? []).length]),
    ).toEqual([
      [1, 1],
      [1, 1],
      [1, 0],
    ]);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([
      { service: 'ingest', component: 'pipeline', msg: 'alone' },
      { service: 'rules', component: 'http', msg: 'shared' },
      { service: 'broker', msg: 'no component' },
    ]);
  });

  it('refuses a component under a component and a service under a service, instead of writing a key twice', () => {
    const http = componentLogger(forService(silentLogger, 'rules'), 'http');
    expect(() => componentLogger(http, 'sse')).toThrow(/component sse is taken under component http/);
    expect(() => forService(http, 'ingest')).toThrow(/already belongs to service rules/);
  });
});

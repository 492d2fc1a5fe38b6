import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import type { Health } from '../protocol/health.ts';
import { brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import { type RedisServer, startRedis } from '../test/support/redis.ts';

describe('broker /healthz with a Redis backend', () => {
  let redis: RedisServer;
  let broker: RunningBroker;
  const health = async () => {
    const response = await fetch(`${broker.httpUrl}/healthz`);
    return { http: response.status, body: (await response.json()) as Health };
  };

  beforeAll(async () => {
    redis = await startRedis();
    broker = await startBroker(
      brokerConfigSchema.parse({ port: 0, httpPort: 0, allowAnonymous: true, redis: redis.url }),
      silentLogger,
    );
  });

  afterAll(async () => {
    await broker?.close();
    await redis?.stop();
  });

  it('fails with the reason while Redis is gone, and passes again once it is back', async () => {
    // The pub/sub connections come up beside the start; on a loaded machine the first answer may be theirs.
    await waitFor(async () => (await health()).http === 200, { what: 'health to pass after start' });
    expect(await health()).toEqual({
      http: 200,
      body: {
        status: 'ok',
        service: 'broker',
        checks: [
          { name: 'mqtt', ok: true },
          { name: 'redis', ok: true },
        ],
      },
    });
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    await waitFor(async () => (await health()).http === 503, { what: 'health to fail', timeoutMs: 15_000 });
    const { body } = await health();
    expect(body.status).toBe('fail');
    expect(body.checks).toContainEqual({ name: 'mqtt', ok: true });
    expect(body.checks.find((c) => c.name === 'redis')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^Redis unreachable: /),
    });
    redis = await startRedis(port);
    await waitFor(async () => (await health()).http === 200, { what: 'health to pass', timeoutMs: 30_000 });
  });
});

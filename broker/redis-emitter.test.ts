import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { testTempDir } from '../test/support/temp.ts';
import { type LocalRedis, startLocalRedis } from './local-redis.ts';
import { RedisEmitter } from './redis-emitter.ts';

/** The emitter of a Redis-backed broker, closed the way Aedes closes it: with publishes still arriving. */
describe('the Redis emitter closing', () => {
  let redis: LocalRedis;
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    redis = await startLocalRedis(testTempDir('cw-emitter-'), silentLogger);
    process.on('unhandledRejection', record);
  });

  afterAll(async () => {
    process.off('unhandledRejection', record);
    await redis?.stop();
  });

  /** How many connections the server holds (this probe's included), asked synchronously. */
  const connections = () =>
    execFileSync('redis-cli', ['-s', redis.socket, 'CLIENT', 'LIST'], { encoding: 'utf8' }).trim().split('\n')
      .length;

  /** An emitter with one subscription, recording the payloads it delivers. */
  const subscribed = async () => {
    const emitter = new RedisEmitter({ path: redis.socket }, silentLogger);
    const delivered: string[] = [];
    await new Promise<void>((resolve) =>
      emitter.on(
        'cw/test',
        (message, done) => {
          delivered.push(String(message.payload));
          done();
        },
        resolve,
      ),
    );
    return { emitter, delivered };
  };
  const publish = (emitter: RedisEmitter, payload: string) =>
    new Promise<Error | undefined>((resolve) => emitter.emit({ topic: 'cw/test', payload }, resolve));

  it('refuses a publish made while it quits, and its QUIT is answered: nothing follows QUIT', async () => {
    const { emitter, delivered } = await subscribed();
    const late: (Error | undefined)[] = [];
    // From an I/O callback, and holding the event loop until the server has answered QUIT and closed both
    // connections: a PUBLISH the emitter still writes then goes to a closed socket (EPIPE) before QUIT's
    // answer is read, which left QUIT rejected and unhandled in the package's own close.
    const closed = await new Promise<Promise<void>>((resolve) =>
      stat(redis.socket, () => {
        const done = new Promise<void>((ended) => emitter.close(ended));
        emitter.emit({ topic: 'cw/test', payload: 'late' }, (error) => late.push(error));
        while (connections() > 1);
        resolve(done);
      }),
    );
    await closed;
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
    expect(late).toEqual([new Error('mqemitter-redis is closing')]);
    expect(delivered).toEqual([]);
  });

  it('sends a publish made just before the close ahead of QUIT, and delivers it', async () => {
    const { emitter, delivered } = await subscribed();
    // Pipelined on the next turn of the event loop, after a QUIT written at once.
    const before = publish(emitter, 'before');
    await new Promise<void>((resolve) => emitter.close(resolve));
    expect(await before).toBeUndefined();
    expect(delivered).toEqual(['before']);
    expect(unhandled).toEqual([]);
  });

  it('closes while its Redis is gone: connections between reconnect attempts are cut, not waited on', async () => {
    const gone = await startLocalRedis(testTempDir('cw-emitter-gone-'), silentLogger);
    const emitter = new RedisEmitter({ path: gone.socket }, silentLogger);
    // The broker logs these (session-store.ts); here they are the outage the test makes.
    const refused: unknown[] = [];
    emitter.state.on('error', (error) => refused.push(error));
    await new Promise<void>((resolve) => emitter.on('cw/test', (_m, done) => done(), resolve));
    await gone.stop();
    // Between attempts or in one: either way no 'end' comes by itself.
    await waitFor(() => emitter.subConn.status !== 'ready' && emitter.pubConn.status !== 'ready', {
      what: 'both connections lost',
    });
    // Answered only by a Redis that comes back: the close waits for it a grace, then quits regardless.
    const pending = publish(emitter, 'during the outage');
    await new Promise<void>((resolve) => emitter.close(resolve));
    expect(emitter.closed).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
    void pending;
  }, 60_000);
});

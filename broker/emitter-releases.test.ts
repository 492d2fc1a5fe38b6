import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { keepReleasesAsync } from './emitter-releases.ts';

const require = createRequire(import.meta.url);
type Emitter = {
  on(topic: string, listener: (message: { topic: string }, done: () => void) => void): void;
  emit(message: { topic: string }): void;
  current: number;
};
const mqemitter = require('mqemitter') as (options: { concurrency: number }) => Emitter;

/** A queue of 50,000 messages nobody subscribed to, behind one delivery that ends when told to. */
function queued(emitter: Emitter) {
  let finish = () => {};
  emitter.on('cw/v1/busy', (_message, done) => {
    finish = done;
  });
  emitter.emit({ topic: 'cw/v1/busy' });
  for (let i = 0; i < 50_000; i += 1) emitter.emit({ topic: `$SYS/broker/new/clients/${i}` });
  return () => finish();
}

describe('keepReleasesAsync', () => {
  it('is needed: mqemitter runs a queue of unsubscribed messages as one recursion', () => {
    const release = queued(mqemitter({ concurrency: 1 }));
    expect(release).toThrow(RangeError);
  });

  it('runs the same queue one message per turn, to the end', async () => {
    const emitter = mqemitter({ concurrency: 1 });
    keepReleasesAsync(emitter);
    const release = queued(emitter);
    expect(release).not.toThrow();
    const until = Date.now() + 30_000;
    while (emitter.current > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(emitter.current).toBe(0);
  });
});

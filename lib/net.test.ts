import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from './net.ts';

describe('freePort', () => {
  it('returns a port that can be bound at once', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((r) => server.close(r));
  });
});

describe('waitFor', () => {
  it('resolves as soon as the check holds, sync or async', async () => {
    let calls = 0;
    await waitFor(() => ++calls === 3, { intervalMs: 5 });
    expect(calls).toBe(3);
    await waitFor(async () => true);
  });

  it('names what it waited for when it times out', async () => {
    await expect(waitFor(() => false, { timeoutMs: 50, intervalMs: 10, what: 'the broker' })).rejects.toThrow(
      'timed out after 50 ms waiting for the broker',
    );
  });

  it('passes a failing check straight through', async () => {
    await expect(
      waitFor(() => {
        throw new Error('influxd exited');
      }),
    ).rejects.toThrow('influxd exited');
  });
});

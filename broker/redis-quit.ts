/** The part of an ioredis connection (the broker's or a package's own copy) a bounded close needs. */
export interface RedisConnection {
  status: string;
  quit(): Promise<unknown>;
  once(event: 'end', listener: () => void): unknown;
  disconnect(): void;
}

/** Long enough for a loaded Redis to answer QUIT; short enough that a stopping broker is not held up. */
export const QUIT_GRACE_MS = 5_000;

/**
 * Ends a connection by QUIT, and cuts it if it has not ended `graceMs` later. A close must not wait on a
 * Redis that is gone: ioredis never ends a connection caught between two reconnect attempts, by QUIT or by
 * `disconnect()` (its 'end' does not come), and a QUIT queued while offline is answered only by a Redis
 * that comes back. Resolves once the connection has ended or been cut; QUIT's own failure goes to
 * `failed`, since the package callers of this never handle it.
 */
export function quitWithin(
  connection: RedisConnection,
  failed: (error: Error) => void,
  cut: () => void,
  graceMs = QUIT_GRACE_MS,
): Promise<void> {
  if (connection.status === 'end') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      cut();
      connection.disconnect();
      resolve();
    }, graceMs);
    connection.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.quit().catch(failed);
  });
}

interface Write {
  subs: object;
  done: Promise<unknown>;
}

/**
 * Keeps a persistent session's subscription writes to the Redis store from waiting on each other's answer.
 *
 * aedes-persistence-redis finishes a write when its `$SYS/sub/add` (or `/rm`) broadcast comes back, and keeps
 * one waiter per client id and first filter of the write: a second write under the same key replaces the
 * first one's waiter, so one of the two never finishes. Aedes 1.2 calls `addSubscriptions` once per filter of
 * a SUBSCRIBE, each time with all its filters, so a SUBSCRIBE of two filters from a `clean: false` client
 * never got its SUBACK. Here the calls of one SUBSCRIBE share one write, and a write whose key is still
 * waiting (two packets in flight with the same first filter) starts only once that one has finished.
 *
 * Writes are chained per connection, not per client id: a write whose broadcast was lost (Redis dropped
 * between the two) stalls only the connection it belongs to, and the client's next connection starts clean.
 */
export class SubscriptionWrites {
  readonly #pending = new WeakMap<object, Map<string, Write>>();

  /** Runs `write` for `connection`, or joins the running one for the same `subs`. */
  run<T>(connection: object, key: string, subs: object, write: () => Promise<T>): Promise<T> {
    let writes = this.#pending.get(connection);
    if (!writes) {
      writes = new Map();
      this.#pending.set(connection, writes);
    }
    const before = writes.get(key);
    if (before?.subs === subs) return before.done as Promise<T>;
    const done = (before ? before.done.then(write, write) : write()).finally(() => {
      if (writes.get(key)?.done === done) writes.delete(key);
    });
    writes.set(key, { subs, done });
    return done;
  }
}

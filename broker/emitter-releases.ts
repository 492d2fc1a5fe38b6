type Done = () => void;

/** mqemitter's subscribe as Aedes' emitter has it: `_on` is the local one when mqemitter-redis wraps it. */
export interface SubscribingEmitter {
  on(topic: string, listener: (message: unknown, done: Done) => void): unknown;
  _on?: (topic: string, listener: (message: unknown, done: Done) => void) => unknown;
}

/**
 * mqemitter finishes a message nobody subscribed to at once, and its end starts the next queued one in the
 * same call: a queue of such messages ($SYS announcements of every login in a storm, readings of a centre
 * no service subscribes) is run as one recursion, one stack frame group per message. At 30,000 offered
 * readings/s with a competing CPU hog the broker died of it ("Maximum call stack size exceeded" in
 * mqemitter's released → _do → fastparallel → released). A listener on everything that finishes on the
 * next turn gives every message at least one delivery that ends later, so each end starts the next from a
 * fresh stack. Local only: with Redis a subscription to `#` would bring every message of the cluster here.
 */
export function keepReleasesAsync(emitter: SubscribingEmitter): void {
  const subscribe = (emitter._on ?? emitter.on).bind(emitter);
  subscribe('#', (_message, done) => setImmediate(done));
}

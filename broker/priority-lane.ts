import type { Aedes, Client } from 'aedes';
import { isPriorityFilter, isPriorityTopic } from '../protocol/topics.ts';

type Done = () => void;
type Listener = (message: { topic: string }, done: Done) => void;

/** mqemitter as Aedes' in-process emitter is built: its queue entry point and its one-message step. */
export interface LocalEmitter {
  emit(message: { topic: string }, done?: Done): unknown;
  _do(message: { topic: string }, done: Done): unknown;
  _matcher: { match(topic: string): Listener[] };
  _parallel(that: unknown, listeners: Listener[], message: unknown, done: Done): void;
  current: number;
  _doing: boolean;
  closed: boolean;
}

/** Aedes' per-client record of a subscription: `func` is the listener it gave the emitter. */
type ClientSubscriptions = Record<string, { func: Listener }>;

/**
 * Alarm presses, naps, acknowledgements and the broker's holds go to the sessions that take only those
 * (the rules' priority session) as soon as they are published, ahead of the emitter's queue: at 30,000
 * offered readings/s on the Redis store, a press waited there p99 2.9 s behind readings whose deliveries
 * wait on Redis.
 *
 * Only such sessions. Aedes drops, as a duplicate, a delivery to a client whose publish counter is below one
 * it already delivered to that client (broker/delivery-order.test.ts): a press handed early to ingest, which
 * takes readings and presses, would make every reading it overtook a lost "duplicate". A session whose every
 * subscription matches only priority topics gets nothing else, so among its own deliveries nothing is
 * reordered. Everyone else gets the message from the queue, in publish order; the queue's run skips the
 * listeners the lane has served.
 *
 * A priority message's publisher is acknowledged (and its next packet read) once the lane has served it,
 * not after the queue's run: a button pressed twice waited for the first press's whole run.
 *
 * A session joins the lane at its SUBSCRIBE (Aedes announces no restored subscription; the rules subscribe
 * again on every connection) and leaves it at the first subscription outside it.
 */
export class PriorityLane {
  readonly #listeners = new WeakSet<Listener>();
  readonly #served = new WeakMap<object, Set<Listener>>();

  constructor(aedes: Aedes, emitter: LocalEmitter) {
    const sort = (_subscriptions: unknown, client: Client) => this.#sort(client);
    aedes.on('subscribe', sort);
    aedes.on('unsubscribe', sort);
    const queue = emitter.emit.bind(emitter);
    const step = emitter._do.bind(emitter);
    emitter.emit = (message, done) => {
      if (emitter.closed || !isPriorityTopic(message.topic)) return queue(message, done);
      this.#serve(emitter, message);
      queue(message);
      // Aedes reads a client's next packets, and sends its PUBACK, once the emitter calls back: a second
      // press of the same button would wait for the first's whole run through the queue. The message is
      // as safe here as there: a persistent session's copy was stored before the emit.
      done?.();
      return emitter;
    };
    emitter._do = (message, done) => {
      const served = this.#served.get(message);
      if (!served) return step(message, done);
      this.#served.delete(message);
      // mqemitter's _do with the lane's listeners left out (broker/priority-lane.test.ts pins the internals).
      emitter._doing = true;
      const rest = emitter._matcher.match(message.topic).filter((listener) => !served.has(listener));
      emitter.current++;
      emitter._parallel(emitter, rest, message, done);
      return emitter;
    };
  }

  #sort(client: Client): void {
    const subscriptions = Object.entries(
      (client as unknown as { subscriptions: ClientSubscriptions }).subscriptions,
    );
    const inLane = subscriptions.length > 0 && subscriptions.every(([filter]) => isPriorityFilter(filter));
    for (const [, { func }] of subscriptions) {
      if (inLane) this.#listeners.add(func);
      else this.#listeners.delete(func);
    }
  }

  #serve(emitter: LocalEmitter, message: { topic: string }): void {
    const now = emitter._matcher.match(message.topic).filter((listener) => this.#listeners.has(listener));
    if (now.length === 0) return;
    this.#served.set(message, new Set(now));
    for (const listener of now) listener(message, noop);
  }
}

function noop(): void {}

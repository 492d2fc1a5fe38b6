import { isPriorityTopic } from '../protocol/topics.ts';

type Done = (error?: Error) => void;
interface Message {
  topic: string;
}

/** mqemitter's queue as Aedes' emitter runs it; the package keeps these internal. */
export interface QueueingEmitter {
  closed: boolean;
  concurrency: number;
  current: number;
  emit(message: Message, done?: Done): unknown;
  /** mqemitter-redis: mqemitter's own emit, for what arrives from Redis (its `emit` publishes there). */
  _emit?: (message: Message, done?: Done) => unknown;
  _do(message: Message, done: Done): unknown;
  /** Whether a delivery ended with messages queued; false while none is, which `emit` checks for a stall. */
  _doing: boolean;
}

const noop: Done = () => {};

/**
 * Alarm presses, naps and alerts skip the emitter's queue. mqemitter runs `concurrency` deliveries at once
 * and queues the rest first come, first served; with sessions in the Redis store each delivery to a
 * persistent session waits on Redis, the queue held thousands of readings, and a press waited behind them:
 * a per-hop trace at 30,000 offered readings/s had presses spend p90 685 ms, p99 2.9 s and up to 11 s
 * between the broker reading them and handing them to the first subscriber. Priority messages are few
 * (people press and acknowledge), so running them past the limit costs no bound that matters; telemetry
 * stays queued and counted. Overtaking is safe only because delivery-dedupe.ts replaced Aedes' duplicate
 * check, which dropped every message a later one had overtaken to the same client (two earlier tries at a
 * lane lost hundreds of thousands of acknowledged readings that way; delivery-order.test.ts). Patched where
 * local delivery starts: mqemitter's `emit`, or with Redis the `_emit` that delivers what the shared bus
 * brought, so every broker of a cluster does it.
 */
export function prioritiseInEmitter(emitter: QueueingEmitter): void {
  const key = typeof emitter._emit === 'function' ? '_emit' : 'emit';
  const queued = emitter[key]!.bind(emitter);
  emitter[key] = (message: Message, done?: Done) => {
    if (emitter.current >= emitter.concurrency && !emitter.closed) {
      if (isPriorityTopic(message.topic)) {
        emitter._do(message, done ?? noop);
        return emitter;
      }
      // A priority delivery can keep the count at the limit after the queue ran dry, which mqemitter reads
      // as a stalled queue: it would start this message anyway and count one delivery too few from then on.
      // Every delivery in flight starts a queued one when it ends, so the message only has to wait.
      emitter._doing = true;
    }
    return queued(message, done);
  };
}

import type { Principal } from './acl.ts';
import type { GuardedConnection } from './packet-guard.ts';

/** Devices that only stream readings: the first traffic to hold when the broker runs out of room. */
export function isTelemetryPublisher(principal: Principal): boolean {
  return principal.type === 'device' && principal.kind !== 'alarm';
}

/** Aedes' emitter as the guard reads it: Aedes keeps its queue and in-flight count internal. */
export interface EmitterLoad {
  _messageQueue?: unknown[];
  current?: number;
}

export interface OverloadBounds {
  /** Hold telemetry above this backlog, read it again below `lowBytes`. */
  highBytes: number;
  lowBytes: number;
  /** The emitter's concurrency: deliveries it runs at once. */
  concurrency: number;
}

export interface Load {
  /** Bytes waiting on subscribers' sockets plus the emitter's queue at 1 KiB a message. */
  backlog: number;
  /** Deliveries in the emitter, running or queued. */
  busy: number;
}

/**
 * Aedes acknowledges publishers whatever its subscribers can take, so without a guard the backlog grows
 * without bound (docs/design.md: 1.1 GB at 20k msgs/s). Ten times a second the guard measures the backlog
 * and, past the high bounds, stops reading from telemetry publishers (TCP then pushes back on the devices)
 * until it falls below the low ones; alarm buttons and the services are never watched, so they keep flowing.
 */
export class OverloadGuard {
  #held = false;
  #timer: NodeJS.Timeout | undefined;
  // Only subscribers' sockets build a backlog (a device is sent nothing but acknowledgements), and only
  // telemetry publishers are held: both kept as sets, because the guard runs ten times a second and, under
  // load, switches often. Finding the telemetry publishers among 12,000 clients at every switch was a tenth
  // of the broker's CPU with 10,000 wearables connected (bench connections, CPU profile).
  readonly #subscribers = new Set<GuardedConnection>();
  readonly #telemetryPublishers = new Set<GuardedConnection>();
  readonly #measured: ((load: Load) => void)[] = [];
  readonly #changed: ((held: boolean, load: Load) => void)[] = [];

  constructor(
    private readonly emitter: EmitterLoad,
    private readonly bounds: OverloadBounds,
  ) {}

  get held(): boolean {
    return this.#held;
  }

  /** Called at every measurement. */
  onMeasure(listener: (load: Load) => void): void {
    this.#measured.push(listener);
  }

  /** Called when telemetry starts or stops being held. */
  onChange(listener: (held: boolean, load: Load) => void): void {
    this.#changed.push(listener);
  }

  /** A connection that subscribed: its unsent bytes count towards the backlog. */
  watchSubscriber(connection: GuardedConnection): void {
    this.#watch(this.#subscribers, connection);
  }

  /** A telemetry publisher's connection: held with the others, and from now if they are held. */
  watchTelemetryPublisher(connection: GuardedConnection): void {
    if (!this.#watch(this.#telemetryPublishers, connection)) return;
    if (this.#held) connection.hold(true);
  }

  start(intervalMs = 100): void {
    this.#timer = setInterval(() => this.#check(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #watch(set: Set<GuardedConnection>, connection: GuardedConnection): boolean {
    if (connection.destroyed) return false;
    if (!set.has(connection)) {
      set.add(connection);
      connection.once('close', () => set.delete(connection));
    }
    return true;
  }

  #check(): void {
    const { emitter, bounds } = this;
    let backlog = 0;
    for (const c of this.#subscribers) backlog += c.backlogBytes;
    // A queued message is counted at 1 KiB, a batch's order of size.
    backlog += (emitter._messageQueue?.length ?? 0) * 1024;
    // Deliveries wait for a slow subscriber's drain, and the emitter runs at most `concurrency` at once,
    // first come first served: once full, an alarm would queue behind telemetry. Holding telemetry at 80 %
    // keeps the rest free for alarms and services.
    const busy = (emitter.current ?? 0) + (emitter._messageQueue?.length ?? 0);
    const load = { backlog, busy };
    for (const listener of this.#measured) listener(load);
    const shouldHold = this.#held
      ? backlog > bounds.lowBytes || busy > bounds.concurrency / 2
      : backlog > bounds.highBytes || busy > bounds.concurrency * 0.8;
    if (shouldHold === this.#held) return;
    this.#held = shouldHold;
    for (const listener of this.#changed) listener(shouldHold, load);
    for (const connection of this.#telemetryPublishers) connection.hold(shouldHold);
  }
}

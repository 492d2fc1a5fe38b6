import { DeadlineHeap } from './heap.ts';

/**
 * How long a hold the broker announced stays in force without a fresh announcement: a broker that dies
 * while holding must not blind silence for ever. The broker repeats its hold every second; the lease
 * leaves room for an announcement that waited behind the very backlog it announces.
 */
export const HOLD_LEASE_MS = 15_000;

/** Stalls that ended this long before the latest one are forgotten: every silence period is far shorter. */
const STALL_MEMORY_MS = 3_600_000;

interface Waiting {
  /** The deadline each waiting wearable waits to see passed; the heap may hold older, stale entries. */
  readonly deadlines: Map<string, number>;
  readonly heap: DeadlineHeap;
}

/**
 * What the pipeline has delivered, per source: a source is one MQTT connection readings come by (a room
 * gateway relaying its wearables, or a wearable of its own). MQTT keeps one connection's messages in order
 * but says nothing of two connections', and under load their queues fall behind by different amounts. So
 * a wearable is silent at its deadline only once its own source has carried readings past that deadline
 * without it (its gateway's later batches left it out), or once nothing at all has come by its source for
 * a silence period (for a wearable of its own, that is its own silence).
 *
 * "Nothing has come" counts only time the pipeline could deliver: while a broker holds telemetry
 * publishers to let its subscribers catch up, every source goes quiet at once, and that is the pipeline's
 * stall (raised as monitoring-degraded), not each source failing.
 */
export class InputProgress {
  /** Per centre, the latest engine time of a reading received from it: where a last will is placed. */
  readonly #centers = new Map<string, number>();
  readonly #sources = new Map<string, { watermark: number; arrival: number }>();
  readonly #waiting = new Map<string, Waiting>();
  /** Closed stalls, in time order and disjoint. */
  readonly #stalls: { start: number; end: number }[] = [];
  /** Brokers holding telemetry now: since when, and the last time they said so. */
  readonly #holds = new Map<string, { since: number; last: number }>();

  /** `start`: when this process began listening, the arrival of a source that has sent nothing yet. */
  constructor(private start: number) {}

  /** A replay's clock starts at its first input, before the wall clock this process started at. */
  restart(start: number): void {
    this.start = start;
  }

  /**
   * A reading from `center` by `source`, placed at `at`, received at `arrival`; returns the wearables whose
   * deadline the source has now passed. Only those: a gateway with many waiting wearables would otherwise
   * look at every one of them again for every batch.
   */
  advance(center: string, source: string, at: number, arrival: number): string[] {
    this.#centers.set(center, Math.max(this.#centers.get(center) ?? at, at));
    const current = this.#sources.get(source);
    const watermark = Math.max(current?.watermark ?? at, at);
    this.#sources.set(source, { watermark, arrival: Math.max(current?.arrival ?? arrival, arrival) });
    const waiting = this.#waiting.get(source);
    if (!waiting) return [];
    const passed: string[] = [];
    for (let top = waiting.heap.peek(); top && top.at <= watermark; top = waiting.heap.peek()) {
      waiting.heap.pop();
      if (waiting.deadlines.get(top.key) !== top.at) continue;
      waiting.deadlines.delete(top.key);
      passed.push(top.key);
    }
    if (waiting.deadlines.size === 0) this.#waiting.delete(source);
    return passed;
  }

  watermark(center: string): number | undefined {
    return this.#centers.get(center);
  }

  /** A broker announced it holds telemetry (`held`) or reads it again, at `at`. */
  hold(broker: string, held: boolean, at: number): void {
    const current = this.#holds.get(broker);
    if (held) {
      this.#holds.set(broker, { since: current?.since ?? at, last: at });
      return;
    }
    if (current) {
      this.#holds.delete(broker);
      this.#closeStall(current.since, at);
    }
  }

  /**
   * The stall in force at `now`, if any: from the earliest hold to the latest lease. A hold whose broker
   * stopped saying so ended when its lease did, and is closed here.
   */
  #openStall(now: number): { start: number; end: number } | undefined {
    let open: { start: number; end: number } | undefined;
    for (const [broker, hold] of this.#holds) {
      const end = hold.last + HOLD_LEASE_MS;
      if (end <= now) {
        this.#holds.delete(broker);
        this.#closeStall(hold.since, end);
      } else {
        open = {
          start: Math.min(open?.start ?? hold.since, hold.since),
          end: Math.max(open?.end ?? end, end),
        };
      }
    }
    return open;
  }

  #closeStall(start: number, end: number): void {
    const stalls = this.#stalls;
    // Stalls close in time order, so a new one only ever joins or follows the last (two brokers' holds
    // may overlap: then the joined stall starts at the earlier).
    const last = stalls.at(-1);
    if (last && start <= last.end) {
      last.start = Math.min(last.start, start);
      last.end = Math.max(last.end, end);
    } else stalls.push({ start, end });
    while (stalls.length > 1 && stalls[0]!.end < end - STALL_MEMORY_MS) stalls.shift();
  }

  /**
   * When the source counts as silent: once `silenceMs` of time the pipeline could deliver have passed
   * since its last arrival. While a stall is in force the answer is after its lease; a broker that keeps
   * holding moves it on, and the timer is looked at again then.
   */
  silentAt(source: string, silenceMs: number, now: number): number {
    let t = this.#sources.get(source)?.arrival ?? this.start;
    let remaining = silenceMs;
    const open = this.#openStall(now);
    for (const stall of open ? [...this.#stalls, open] : this.#stalls) {
      if (stall.end <= t) continue;
      if (stall.start > t) {
        if (stall.start - t >= remaining) return t + remaining;
        remaining -= stall.start - t;
      }
      t = stall.end;
    }
    return t + remaining;
  }

  /** Since when a stall in force at `now` has lasted. */
  stalledSince(now: number): number | undefined {
    return this.#openStall(now)?.start;
  }

  /** Whether a silence deadline of a wearable of `source` may fire at `now`; if not, it waits for progress. */
  admits(source: string, device: string, deadline: number, now: number, silenceMs: number): boolean {
    const watermark = this.#sources.get(source)?.watermark;
    if ((watermark !== undefined && watermark >= deadline) || now >= this.silentAt(source, silenceMs, now)) {
      return true;
    }
    let waiting = this.#waiting.get(source);
    if (!waiting) {
      waiting = { deadlines: new Map(), heap: new DeadlineHeap() };
      this.#waiting.set(source, waiting);
    }
    if (waiting.deadlines.get(device) !== deadline) {
      waiting.deadlines.set(device, deadline);
      waiting.heap.push(deadline, device);
    }
    return false;
  }

  /** Every device waiting on `source`, handed back to be scheduled again (they re-enter if still waiting). */
  release(source: string): string[] {
    const waiting = this.#waiting.get(source);
    if (!waiting) return [];
    this.#waiting.delete(source);
    return [...waiting.deadlines.keys()];
  }

  /** Whether a device waits on `source`: only then does the source's own silence need a timer. */
  waits(source: string): boolean {
    return this.#waiting.has(source);
  }

  /** The sources a wearable waits on: when a stall ends, their timers move. */
  waitingSources(): string[] {
    return [...this.#waiting.keys()];
  }
}

/**
 * Places each device's readings on the engine clock through that device's measured offset, so a wearable
 * whose clock is a minute off holds, goes silent and clears exactly like one whose clock is right.
 *
 * A sample is `arrival - ts`: the device's offset plus that message's delay, never less than the offset.
 * Samples go into buckets of `BUCKET`; a bucket's value is its `RANK`-th smallest (so up to `RANK - 1` wild
 * timestamps in a bucket cannot move it), and the estimate is the smallest value of the last `BUCKETS`
 * buckets and the one filling: the pipeline's fast path over about five minutes at one reading a second.
 * The window is long on purpose: a backlog that lasts less than it is measured as delay (the rules' input
 * lag), not taken for the device's clock; a clock that steps forward is followed within `RANK` readings, one
 * stepped back only when the window has passed (until then its readings are placed that much early).
 *
 * A placed time is capped at the arrival (nothing happens after it is received), so a reading stamped
 * minutes ahead lands at its arrival and does not make the device's next readings look older than it. With
 * the cap, placed times of a device whose own timestamps increase never go backwards.
 */
export const BUCKET = 15;
export const BUCKETS = 20;
export const RANK = 3;

interface Estimator {
  /** Values of the completed buckets, oldest first. */
  buckets: number[];
  /** The RANK smallest samples of the bucket being filled, ascending. */
  least: number[];
  count: number;
}

export class DeviceClocks {
  readonly #devices = new Map<string, Estimator>();

  /** The engine time of a reading stamped `ts` by `device` that arrived at `arrival` (engine time). */
  place(device: string, ts: number, arrival: number): number {
    let e = this.#devices.get(device);
    if (!e) {
      e = { buckets: [], least: [], count: 0 };
      this.#devices.set(device, e);
    }
    insert(e.least, arrival - ts);
    if (++e.count === BUCKET) {
      e.buckets.push(e.least[e.least.length - 1]!);
      if (e.buckets.length > BUCKETS) e.buckets.shift();
      e.least = [];
      e.count = 0;
    }
    return Math.min(ts + this.offset(device)!, arrival);
  }

  /** The device's estimated offset (engine time minus device time), once it has been heard. */
  offset(device: string): number | undefined {
    const e = this.#devices.get(device);
    if (!e) return undefined;
    let best = e.least.length ? e.least[e.least.length - 1]! : Number.POSITIVE_INFINITY;
    for (const value of e.buckets) if (value < best) best = value;
    return best;
  }
}

/** Keeps `least` the RANK smallest values seen, ascending. */
function insert(least: number[], sample: number): void {
  let i = least.length;
  while (i > 0 && least[i - 1]! > sample) i--;
  if (i >= RANK) return;
  least.splice(i, 0, sample);
  if (least.length > RANK) least.pop();
}

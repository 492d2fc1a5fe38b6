/**
 * Places each device's readings on the engine clock through that device's measured offset, so a wearable
 * whose clock is a minute off holds, goes silent and clears exactly like one whose clock is right.
 *
 * A sample is `arrival - ts`: the device's offset plus that message's delay, never less than the offset. The
 * estimate is the `RANK`-th smallest of the last `WINDOW` samples: the small delays win (the pipeline's fast
 * path), and up to `RANK - 1` wild timestamps in a window cannot move it. A placed time is capped at the
 * arrival (nothing happens after it is received), so a reading stamped minutes ahead lands at its arrival
 * and does not make the device's next readings look older than it. With the cap, placed times of a device
 * whose own timestamps increase never go backwards, whatever the estimate does.
 */
export const WINDOW = 30;
export const RANK = 3;

export class DeviceClocks {
  readonly #samples = new Map<string, number[]>();

  /** The engine time of a reading stamped `ts` by `device` that arrived at `arrival` (engine time). */
  place(device: string, ts: number, arrival: number): number {
    let samples = this.#samples.get(device);
    if (!samples) {
      samples = [];
      this.#samples.set(device, samples);
    }
    samples.push(arrival - ts);
    if (samples.length > WINDOW) samples.shift();
    return Math.min(ts + this.offset(device)!, arrival);
  }

  /** The device's estimated offset (engine time minus device time), once it has been heard. */
  offset(device: string): number | undefined {
    const samples = this.#samples.get(device);
    if (!samples?.length) return undefined;
    // The RANK smallest, in one pass: this runs for every reading.
    const least: number[] = [];
    for (const sample of samples) {
      let i = least.length;
      while (i > 0 && least[i - 1]! > sample) i--;
      if (i < RANK) {
        least.splice(i, 0, sample);
        if (least.length > RANK) least.pop();
      }
    }
    return least[least.length - 1];
  }

  forget(device: string): void {
    this.#samples.delete(device);
  }
}

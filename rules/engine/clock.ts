/**
 * The engine clock for replays run faster than real time: it follows the newest device timestamp seen and
 * runs on from there at `speed` times the wall clock, so a hold time of 30 s of device time elapses in 3 s
 * of wall time at 10×, and timers fire at the same device times as a live run. Before any device time is
 * seen it reads the wall clock; the first device time seen sets it (a recording is usually in the past),
 * and after that it only moves forward.
 */
export class DeviceTimeClock {
  #anchorDevice: number | undefined;
  #anchorWall = 0;

  constructor(
    readonly speed: number,
    private readonly wall: () => number = Date.now,
  ) {
    if (!(speed > 0)) throw new RangeError(`replay speed must be > 0, got ${speed}`);
  }

  now = (): number => {
    if (this.#anchorDevice === undefined) return this.wall();
    return this.#anchorDevice + (this.wall() - this.#anchorWall) * this.speed;
  };

  /** A device timestamp was seen: the clock jumps forward to it if it is ahead. */
  observe(deviceTs: number): void {
    // The first device time always anchors, even behind the wall clock: a recording replays from its start.
    if (this.#anchorDevice !== undefined && deviceTs <= this.now()) return;
    this.#anchorDevice = deviceTs;
    this.#anchorWall = this.wall();
  }
}

import type { Ramp } from '../scenario.ts';
import { clamp } from './numbers.ts';

/** A value forced by a scenario: ramps from `from` to `to` over `overMs`, then holds until `until`. */
export class Override {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly at: number,
    readonly overMs: number,
    readonly until: number,
  ) {}

  static of(ramp: Ramp, current: number, at: number, until: number): Override {
    const to = ramp.mode === 'to' ? ramp.value : current + ramp.value;
    return new Override(current, to, at, ramp.overMs, until);
  }

  valueAt(t: number): number {
    if (this.overMs === 0) return this.to;
    return this.from + (this.to - this.from) * clamp((t - this.at) / this.overMs, 0, 1);
  }
}

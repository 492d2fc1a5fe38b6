/**
 * What the pipeline has delivered, per centre: the watermark (the latest engine time of a reading received
 * from the centre) and when the last one arrived. Silence is judged against it, so a reading that is late
 * because a queue is behind is late, not lost: a wearable is silent at its deadline only once its peers'
 * readings have carried the watermark past that deadline, or once nothing at all has come from the centre
 * for a silence period (then there is no peer left to wait for).
 */
export class InputProgress {
  readonly #centers = new Map<string, { watermark: number; arrival: number }>();
  /** Wearables whose silence deadline has passed on the clock but not yet under the watermark. */
  readonly #waiting = new Map<string, Set<string>>();

  /** `start`: when this process began listening, the arrival of a centre that has sent nothing yet. */
  constructor(private start: number) {}

  /** A replay's clock starts at its first input, before the wall clock this process started at. */
  restart(start: number): void {
    this.start = start;
  }

  /** A reading from `center` placed at `at`, received at `arrival`; returns the wearables to look at again. */
  advance(center: string, at: number, arrival: number): string[] {
    const current = this.#centers.get(center);
    this.#centers.set(center, {
      watermark: Math.max(current?.watermark ?? at, at),
      arrival: Math.max(current?.arrival ?? arrival, arrival),
    });
    return this.release(center);
  }

  watermark(center: string): number | undefined {
    return this.#centers.get(center)?.watermark;
  }

  /** When the centre counts as silent as a whole: `silenceMs` after its last arrival. */
  silentAt(center: string, silenceMs: number): number {
    return (this.#centers.get(center)?.arrival ?? this.start) + silenceMs;
  }

  /** Whether a silence deadline of `center` may fire at `now`; if not, the device waits for progress. */
  admits(center: string, device: string, deadline: number, now: number, silenceMs: number): boolean {
    const watermark = this.#centers.get(center)?.watermark;
    if ((watermark !== undefined && watermark >= deadline) || now >= this.silentAt(center, silenceMs)) {
      return true;
    }
    let waiting = this.#waiting.get(center);
    if (!waiting) {
      waiting = new Set();
      this.#waiting.set(center, waiting);
    }
    waiting.add(device);
    return false;
  }

  /** The devices waiting in `center`, handed back to be scheduled again (they re-enter if still waiting). */
  release(center: string): string[] {
    const waiting = this.#waiting.get(center);
    if (!waiting?.size) return [];
    this.#waiting.delete(center);
    return [...waiting];
  }

  /** Whether a device of `center` waits for progress: only then does the whole-centre silence need a timer. */
  waits(center: string): boolean {
    return (this.#waiting.get(center)?.size ?? 0) > 0;
  }
}

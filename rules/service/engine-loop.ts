import type { AlertTransition } from '../../protocol/alerts.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DeviceTimeClock } from '../engine/clock.ts';
import type { Engine, EngineInput, EngineOutput } from '../engine/engine.ts';
import type { Journal } from '../journal/journal.ts';
import type { RulesMetrics, RulesStats } from '../metrics.ts';
import type { NapOutputs } from './nap-outputs.ts';

export interface EngineLoopDeps {
  engine: Engine;
  journal: Journal;
  /** The engine clock: the wall clock live, the replay clock that `deviceClock` moves in replays. */
  now: () => number;
  deviceClock: DeviceTimeClock | undefined;
  /** Wall delays shrink by this (`clock.speed`). */
  speed: number;
  /** Where a turn's transitions go once fsync'd. */
  deliver: (transitions: AlertTransition[]) => void;
  naps: NapOutputs;
  stats: RulesStats;
  metrics: RulesMetrics;
  log: Logger;
}

/**
 * Every engine step goes through here: its changes and transitions are journalled before it returns, its
 * transitions delivered after the turn's fsync, its nap changes and checks handed on, and one timer wakes
 * the engine for its next deadline.
 */
export class EngineLoop {
  readonly #deps: EngineLoopDeps;
  #timer: NodeJS.Timeout | undefined;
  #armedFor: number | undefined;
  #closed = false;
  // Group commit: an alert storm (a centre's wearables all silent at once) costs one fsync per event-loop
  // turn, not one per alert, and the first alert of the turn waits for no more than that turn. The fsync
  // runs off the event loop: behind InfluxDB's writes one took hundreds of ms, and on the loop an alarm
  // press waited that long to be read (a per-hop trace at 30,000 offered readings/s: p50 600 ms between
  // the broker's write to the priority socket and the rules' receive). While one fsync is under way the
  // transitions of later turns gather for the next, so they still go out in order.
  #undelivered: AlertTransition[] = [];
  #commit: NodeJS.Immediate | undefined;
  #syncing: Promise<void> | undefined;

  constructor(deps: EngineLoopDeps) {
    this.#deps = deps;
  }

  /** `ts` moves the replay clock; a status does not (a last will carries the broker's wall-clock time). */
  input(value: EngineInput, ts: number | undefined, arrivedAt: number): void {
    const { engine, now, deviceClock, metrics } = this.#deps;
    if (ts !== undefined) deviceClock?.observe(ts);
    this.step(engine.handle({ ...value, arrivedAt: now() }));
    metrics.processed(value.type, ts ?? arrivedAt, arrivedAt);
  }

  /** Whatever is due by now. */
  tick(): void {
    this.step(this.#deps.engine.tick());
  }

  step(out: EngineOutput): void {
    const { engine, journal, naps, stats, metrics } = this.#deps;
    journal.append(engine.drainChanges(), out.transitions);
    stats.stale += out.stale;
    stats.transitions += out.transitions.length;
    metrics.transitions(out.transitions);
    if (out.transitions.length > 0) {
      this.#undelivered.push(...out.transitions);
      this.#commit ??= setImmediate(() => this.#flush());
    }
    for (const nap of out.naps) naps.nap(nap);
    for (const record of out.checks) naps.check(record);
    if (journal.needsCompaction()) journal.compact(engine.snapshot());
    this.#arm();
  }

  /** No more timers; every transition so far is fsync'd and delivered. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#flush();
    while (this.#syncing) await this.#syncing;
  }

  #flush(): void {
    clearImmediate(this.#commit);
    this.#commit = undefined;
    if (this.#syncing || this.#undelivered.length === 0) return;
    const transitions = this.#undelivered;
    this.#undelivered = [];
    this.#syncing = this.#deps.journal.syncAsync().then(() => {
      this.#syncing = undefined;
      this.#deps.deliver(transitions);
      this.#flush();
    });
  }

  /** One timer, for the engine's next deadline; in device-time mode wall delays shrink by the speed. */
  #arm(): void {
    if (this.#closed) return;
    const { engine, now, speed, log } = this.#deps;
    const deadline = engine.nextDeadline();
    if (deadline === this.#armedFor && this.#timer) return;
    clearTimeout(this.#timer);
    this.#armedFor = deadline;
    if (deadline === undefined) return;
    const delay = Math.max(0, Math.ceil((deadline - now()) / speed));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#armedFor = undefined;
      try {
        this.tick();
      } catch (error) {
        log.error({ err: error }, 'rules step failed');
        this.#arm();
      }
    }, delay);
  }
}

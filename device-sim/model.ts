import { Prng } from './prng.ts';
import type { SimRecord } from './recording.ts';
import { FaultInjector } from './faults.ts';
import type { ScenarioEvent } from './scenario.ts';
import type { SimulationPlan } from './model/plan.ts';
import type { Item } from './model/sim.ts';
import { World } from './model/world.ts';

/** A window of simulated time is generated, sorted and handed out at once. */
const WINDOW_MS = 1000;

/** Alarm presses after the first are spread three seconds apart, as a person presses a button. */
function expandEvents(events: ScenarioEvent[], startTime: number): { t: number; event: ScenarioEvent }[] {
  const out: { t: number; event: ScenarioEvent }[] = [];
  for (const event of events) {
    const presses = event.type === 'alarm' ? event.presses : 1;
    for (let k = 0; k < presses; k++) out.push({ t: startTime + event.at + k * 3000, event });
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * The whole publish stream of a simulation, in simulated-time order, computed from the plan alone: no
 * network timing, wall clock or Math.random takes part, so a seed and a scenario give one recording.
 */
export function* simulate(plan: SimulationPlan): Generator<SimRecord> {
  const world = new World(plan);
  const faults = new FaultInjector(plan.seed, plan.faults, plan.fleet);
  const chaos = Prng.derive(plan.seed, 'connection-faults');
  const events = expandEvents(plan.events, plan.startTime);
  const end = plan.startTime + plan.durationMs;
  let next = 0;
  let lastT = plan.startTime;
  for (let t = plan.startTime; t < end; ) {
    const items: Item[] = [];
    while (next < events.length && events[next]!.t <= t) world.apply(events[next++]!.event, t, items);
    const windowEnd = Math.min(t + WINDOW_MS, end, events[next]?.t ?? end);
    const minutes = (windowEnd - t) / 60_000;
    if (plan.faults.connectionStorm > 0 && chaos.chance(plan.faults.connectionStorm * minutes)) {
      world.storm(t, chaos, items);
    }
    if (plan.faults.wrongPassword > 0 && chaos.chance(Math.min(1, plan.faults.wrongPassword * minutes))) {
      world.wrongPassword(t, chaos, items);
    }
    for (const sim of world.sims) {
      while (sim.nextAt < windowEnd) {
        sim.emit(sim.nextAt, items);
        sim.nextAt += sim.interval;
      }
    }
    // Stable sort: equal times keep fleet order, so the result never depends on anything but the plan.
    items.sort((a, b) => a.t - b.t);
    const records: SimRecord[] = [];
    for (const item of items) {
      if (item.record) records.push(item.record);
      else if (item.relay) item.relay.gateway.buffer.push(item.relay.item);
      else if (item.flush) item.flush.gateway.flush(item.t, item.flush.online, records);
    }
    for (const record of records) {
      lastT = record.t;
      if (record.readings) yield* faults.process(record);
      else yield record;
    }
    t = windowEnd;
  }
  yield* faults.drain(lastT);
}

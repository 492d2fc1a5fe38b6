import { type Change, type DurableState, type MapName, emptyState } from './state.ts';

/** The durable state and which of its keys a step changed: the journal's unit of write. */
export class Store {
  readonly state: DurableState;
  readonly #dirty = new Map<MapName, Set<string>>();

  constructor(state: DurableState = emptyState()) {
    this.state = state;
  }

  set(map: MapName, key: string, value: unknown): void {
    (this.state[map] as Record<string, unknown>)[key] = value;
    this.#touch(map, key);
  }

  delete(map: MapName, key: string): void {
    delete (this.state[map] as Record<string, unknown>)[key];
    this.#touch(map, key);
  }

  /** The durable changes since the last drain, as (map, key, value-or-null). */
  drainChanges(): Change[] {
    const changes: Change[] = [];
    for (const [map, keys] of this.#dirty) {
      const target = this.state[map] as Record<string, unknown>;
      for (const key of keys) changes.push([map, key, target[key] ?? null]);
    }
    this.#dirty.clear();
    return changes;
  }

  #touch(map: MapName, key: string): void {
    let keys = this.#dirty.get(map);
    if (!keys) {
      keys = new Set();
      this.#dirty.set(map, keys);
    }
    keys.add(key);
  }
}

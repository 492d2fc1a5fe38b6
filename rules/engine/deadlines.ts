import { DeadlineHeap } from './heap.ts';

/**
 * What can fall due, each with the id it is about: a condition's hold or clear (`condition`, an alert key),
 * an open alert's reminder, escalation or bump (`alert`), a wearable's silence (`silence`, a device), a
 * source silent (`source-silence`: a gateway's or a wearable's own connection), the silent wearables of a centre gathered into one cause
 * (`silent-group`), a room's nap schedule (`schedule`) and nap checks (`check`).
 */
export type DeadlineKind =
  | 'condition'
  | 'alert'
  | 'silence'
  | 'source-silence'
  | 'silent-group'
  | 'schedule'
  | 'check';
export interface Deadline {
  kind: DeadlineKind;
  id: string;
}

/** Heap keys: ties break on them, and these letters keep the firing order of equal times fixed. */
const CODE: Record<DeadlineKind, string> = {
  alert: 'a',
  condition: 'c',
  'source-silence': 'g',
  'silent-group': 'h',
  check: 'k',
  silence: 'm',
  schedule: 's',
};
const KIND = Object.fromEntries(Object.entries(CODE).map(([kind, code]) => [code, kind])) as Record<
  string,
  DeadlineKind
>;

const keyOf = (d: Deadline) => `${CODE[d.kind]}|${d.id}`;
const deadlineOf = (key: string): Deadline => ({ kind: KIND[key.slice(0, 1)]!, id: key.slice(2) });

/**
 * The engine's timers as one heap. An entry is never removed early: a popped one is checked again against
 * the state (`due`), so moving a deadline costs nothing; only an earlier time is pushed again.
 */
export class Deadlines {
  readonly #heap = new DeadlineHeap();
  readonly #scheduled = new Map<string, number>();

  constructor(
    private readonly due: (d: Deadline) => number | undefined,
    private readonly fire: (d: Deadline, at: number) => void,
  ) {}

  next(): number | undefined {
    return this.#heap.peek()?.at;
  }

  schedule(d: Deadline): void {
    const due = this.due(d);
    if (due === undefined) return;
    const key = keyOf(d);
    const current = this.#scheduled.get(key);
    if (current !== undefined && current <= due) return;
    this.#scheduled.set(key, due);
    this.#heap.push(due, key);
  }

  /** Fires, in time order, everything due up to `now`. */
  advance(now: number): void {
    for (let top = this.#heap.peek(); top && top.at <= now; top = this.#heap.peek()) {
      this.#heap.pop();
      if (this.#scheduled.get(top.key) === top.at) this.#scheduled.delete(top.key);
      const d = deadlineOf(top.key);
      const due = this.due(d);
      if (due !== undefined && due <= now) this.fire(d, due);
      this.schedule(d);
      if (d.kind === 'alert' || d.kind === 'condition') {
        // A fired rule timer can move the other timer of the same (rule, subject).
        this.schedule({ kind: 'alert', id: d.id });
        this.schedule({ kind: 'condition', id: d.id });
      }
    }
  }
}

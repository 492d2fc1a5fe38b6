/**
 * A min-heap of (time, key) deadlines. Entries are never removed early: a popped entry is re-checked
 * against the engine state, so moving a deadline costs nothing. Ties break on the key, which keeps the
 * firing order identical between a live run and a replay.
 */
export class DeadlineHeap {
  readonly #items: { at: number; key: string }[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): { at: number; key: string } | undefined {
    return this.#items[0];
  }

  push(at: number, key: string): void {
    const items = this.#items;
    items.push({ at, key });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): { at: number; key: string } | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.#less(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.#less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }

  #less(a: { at: number; key: string }, b: { at: number; key: string }): boolean {
    return a.at < b.at || (a.at === b.at && a.key < b.key);
  }
}

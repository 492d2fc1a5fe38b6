type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/**
 * A tiny hyperscript: enough for a page of tiles and tables without a framework. Attributes are set one by
 * one and text as text nodes, never parsed HTML, so registry names cannot inject markup and the page needs
 * no inline style or script under its Content-Security-Policy.
 */
export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (key === 'class') el.className = String(value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  el.append(...present(children));
  return el;
}

function present(children: Child[]): (Node | string)[] {
  return children.flatMap((c) =>
    c === null || c === undefined || c === false ? [] : [c instanceof Node ? c : String(c)],
  );
}

/** An element whose content is rebuilt only when the key of what it shows changes. */
export class Slot {
  private key: string | undefined;

  constructor(readonly el: HTMLElement) {}

  show(key: string, build: () => Child[]): void {
    if (key === this.key) return;
    this.key = key;
    this.el.replaceChildren(...present(build()));
  }
}

/** One item's element of a `KeyedList`, kept for the item's life and patched in place. */
export interface Part<T, C> {
  el: HTMLElement;
  update(item: T, context: C): void;
}

/**
 * Keeps one part per item of `parent`, in the items' order: an item seen before keeps its element (focus,
 * screen-reader position and the live region's quiet are left alone) and is patched; only new items are
 * built, and nodes move only when the order changed.
 */
export class KeyedList<T, C> {
  private readonly parts = new Map<string, Part<T, C>>();

  constructor(
    readonly parent: HTMLElement,
    private readonly id: (item: T) => string,
    private readonly create: () => Part<T, C>,
  ) {}

  update(items: readonly T[], context: C): void {
    const seen = new Set<string>();
    let previous: ChildNode | null = null;
    for (const item of items) {
      const id = this.id(item);
      seen.add(id);
      let part = this.parts.get(id);
      if (!part) {
        part = this.create();
        this.parts.set(id, part);
      }
      part.update(item, context);
      const expected: ChildNode | null = previous ? previous.nextSibling : this.parent.firstChild;
      if (expected !== part.el) this.parent.insertBefore(part.el, expected);
      previous = part.el;
    }
    for (const [id, part] of this.parts) {
      if (seen.has(id)) continue;
      part.el.remove();
      this.parts.delete(id);
    }
  }
}

/** Writes only a text that changed: an unchanged node is not touched, so nothing is re-announced. */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function setClass(el: Element, name: string): void {
  if (el.className !== name) el.className = name;
}

/** Sets an attribute only when it differs: even an equal write is a DOM mutation assistive tech may see. */
export function setAttr(el: Element, name: string, value: string | boolean): void {
  if (value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
    return;
  }
  const text = value === true ? '' : value;
  if (el.getAttribute(name) !== text) el.setAttribute(name, text);
}

/**
 * A relative time ("12 s ago") kept in `data-since`, which a once-a-second `tickSince` rewrites in place:
 * time passing changes these texts and nothing else on the page.
 */
export function setSince(
  el: HTMLElement,
  ms: number | undefined,
  format: (ms: number | undefined) => string,
) {
  setAttr(el, 'data-since', ms === undefined ? false : String(ms));
  setText(el, format(ms));
}

export function tickSince(root: ParentNode, format: (ms: number | undefined) => string): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-since]')) {
    setText(el, format(Number(el.dataset.since)));
  }
}

import type { Format } from '../format.ts';
import type { State } from '../state.ts';

/** What every view reads on a render: the state and its words, times and names. */
export interface Rendering {
  state: State;
  f: Format;
}

/** A part of the page: built once, then patched from the state on every render. */
export interface View {
  el: HTMLElement;
  update(state: State, f: Format): void;
}

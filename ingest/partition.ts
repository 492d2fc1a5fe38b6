import type { FleetIndex } from '../protocol/fleet.ts';

/** FNV-1a, 32 bit: stable across processes, Node versions and machines, unlike anything seeded. */
export function stableHash(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export interface CenterSelection {
  centers?: string[] | undefined;
  partition?: { index: number; count: number } | undefined;
}

/** The centres one ingest process owns: an explicit list, a hash partition of the registry's, or all of them. */
export function selectCenters(fleet: FleetIndex, selection: CenterSelection): string[] {
  if (selection.centers) return [...selection.centers];
  const all = [...fleet.centers.keys()];
  const partition = selection.partition;
  if (!partition) return all;
  return all.filter((id) => stableHash(id) % partition.count === partition.index);
}

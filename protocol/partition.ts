import { z } from 'zod';
import { envList } from './config.ts';
import { FleetIndex } from './fleet.ts';
import { idSchema } from './ids.ts';
import type { Setting } from './settings.ts';

/**
 * Which centres one process of a partitioned tier (ingest, rules) owns. Every tier uses this one
 * contract, so `--partition 1/4` names the same centres for the ingest and the rules process of a node.
 */

/** FNV-1a, 32 bit: stable across processes, Node versions and machines, unlike anything seeded. */
export function stableHash(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** `i/n`: this process takes the centres whose stable hash modulo n is i. */
export const partitionSchema = z
  .string()
  .regex(/^\d+\/\d+$/, 'expected i/n, e.g. 0/4')
  .transform((value) => {
    const [index, count] = value.split('/').map(Number) as [number, number];
    return { index, count };
  })
  .refine((p) => p.count >= 1 && p.index < p.count, 'expected 0 <= i < n');

/** The two config fields a partitioned service adds to its schema (`centers` or `partition`, not both). */
export const centerSelectionFields = {
  /** Centres this process owns; all of the registry's when absent. */
  centers: envList.pipe(z.array(idSchema)).optional(),
  partition: partitionSchema.optional(),
};

/** The env vars (`prefix` e.g. `CW_INGEST`) and flags of centerSelectionFields. */
export function centerSelectionSettings(prefix: string): Setting[] {
  return [
    {
      path: 'centers',
      env: `${prefix}_CENTERS`,
      flag: '--centers <list>',
      help: 'only these centres, comma-separated',
    },
    {
      path: 'partition',
      env: `${prefix}_PARTITION`,
      flag: '--partition <i/n>',
      help: 'only centres whose stable hash mod n is i (the same centres for ingest and rules)',
    },
  ];
}

/** For `.refine(...selectionRefinement)` on the service schema. */
export const selectionRefinement: [
  (c: { centers?: string[] | undefined; partition?: unknown }) => boolean,
  { message: string; path: string[] },
] = [
  (c) => !(c.centers && c.partition),
  { message: 'give centers or partition, not both', path: ['partition'] },
];

export interface CenterSelection {
  centers?: string[] | undefined;
  partition?: { index: number; count: number } | undefined;
}

/** The centres one process owns: an explicit list, a hash partition of the registry's, or all of them. */
export function selectCenters(fleet: FleetIndex, selection: CenterSelection): string[] {
  if (selection.centers) return [...selection.centers];
  const all = [...fleet.centers.keys()];
  const partition = selection.partition;
  if (!partition) return all;
  return all.filter((id) => stableHash(id) % partition.count === partition.index);
}

/** The registry cut down to some centres: what a partition's engine watches (monitoring-lost timers, naps). */
export function ownedFleet(fleet: FleetIndex, centers: string[]): FleetIndex {
  const owned = new Set(centers);
  const { fleet: doc } = fleet;
  return new FleetIndex({
    ...doc,
    centers: doc.centers.filter((c) => owned.has(c.id)),
    rooms: doc.rooms.filter((r) => owned.has(r.center)),
    devices: doc.devices.filter((d) => owned.has(d.center)),
    infants: doc.infants.filter((i) => owned.has(i.center)),
  });
}

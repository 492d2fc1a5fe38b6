import { FleetIndex, type Fleet } from '../protocol/fleet.ts';
import { selectCenters } from '../protocol/partition.ts';

const ROOMS_PER_CENTER = 25;

/**
 * Centres and rooms for `wearables` infants: full centres of 25 rooms, but at least one centre per
 * partition (rooms spread over them), or a partition would own nothing and the run compare nothing.
 */
export function fleetShape(
  wearables: number,
  infantsPerRoom: number,
  partitions: number,
): { centers: number; roomsPerCenter: number } {
  const centers = Math.max(1, Math.ceil(wearables / (infantsPerRoom * ROOMS_PER_CENTER)));
  if (centers >= partitions) return { centers, roomsPerCenter: ROOMS_PER_CENTER };
  return { centers: partitions, roomsPerCenter: Math.ceil(wearables / (infantsPerRoom * partitions)) };
}

/** The devices of each partition `i/partitions`, by the services' own centre selection. */
export function devicesByPartition(fleet: Fleet, partitions: number): Fleet['devices'][] {
  const index = new FleetIndex(fleet);
  return Array.from({ length: partitions }, (_, i) => {
    const owned = new Set(selectCenters(index, { partition: { index: i, count: partitions } }));
    return fleet.devices.filter((d) => owned.has(d.center));
  });
}

/**
 * How the fleet's centres and wearables fall to the partitions, as a progress line; refuses a split that
 * leaves a partition without a centre (the FNV hash of c1…cN alternates for 2, not for every n).
 */
export function describeSplit(fleet: Fleet, partitions: number): string {
  const parts = devicesByPartition(fleet, partitions).map((devices, i) => ({
    i,
    centers: new Set(devices.map((d) => d.center)).size,
    wearables: devices.filter((d) => d.kind === 'wearable').length,
  }));
  const empty = parts.filter((p) => p.centers === 0);
  if (empty.length > 0)
    throw new Error(
      `partition ${empty.map((p) => `${p.i}/${partitions}`).join(', ')} owns no centre of the bench fleet: use another --partitions or a higher --rate`,
    );
  return parts
    .map((p) => `p${p.i}of${partitions}: ${p.centers} centres, ${p.wearables} wearables`)
    .join('; ');
}

/**
 * The broker list the `k`-th service process connects with (ingest partitions first, then rules
 * partitions): each takes the next broker as its first, so the brokers deliver to as many subscribers each,
 * and the others follow for failover (lib/mqtt-connect.ts; docs/scaling.md: a broker loss then moves only
 * some services).
 */
export function brokerListFor(brokers: string[], k: number): string {
  const first = k % brokers.length;
  return [...brokers.slice(first), ...brokers.slice(0, first)].join(',');
}

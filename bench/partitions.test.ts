import { expect, it } from 'vitest';
import { generateFleet } from '../device-sim/index.ts';
import { topologyName } from './options.ts';
import { brokerListFor, describeSplit, devicesByPartition, fleetShape } from './partitions.ts';

const fleetFor = (wearables: number, partitions: number) =>
  generateFleet({
    ...fleetShape(wearables, 12, partitions),
    infantsPerRoom: 12,
    gateways: true,
    seed: 42,
    hashCost: null,
    referenceMonth: '2026-01',
  }).fleet;

it('keeps the one-partition fleet of full centres and splits the default bench fleet 49/51 centres over two partitions', () => {
  expect(fleetShape(30_000, 12, 1)).toEqual({ centers: 100, roomsPerCenter: 25 });
  expect(fleetShape(30_000, 12, 2)).toEqual({ centers: 100, roomsPerCenter: 25 });
  const wearables = devicesByPartition(fleetFor(30_000, 2), 2).map(
    (devices) => devices.filter((d) => d.kind === 'wearable').length,
  );
  // The FNV hash of c1…c100 mod 2: 49 and 51 centres.
  expect(wearables).toEqual([14_700, 15_300]);
});

it('spreads a fleet smaller than a centre a partition over one centre per partition', () => {
  expect(fleetShape(300, 12, 1)).toEqual({ centers: 1, roomsPerCenter: 25 });
  expect(fleetShape(300, 12, 2)).toEqual({ centers: 2, roomsPerCenter: 13 });
  expect(describeSplit(fleetFor(300, 2), 2)).toBe(
    'p0of2: 1 centres, 156 wearables; p1of2: 1 centres, 156 wearables',
  );
});

it('refuses a split that leaves a partition without a centre', () => {
  expect(() => describeSplit(fleetFor(300, 1), 2)).toThrow(/partition 0\/2 owns no centre/);
});

it('gives each service process the next broker first and the others after it, to fail over to', () => {
  const brokers = ['mqtt://b0', 'mqtt://b1'];
  // Ingest p0, p1, then rules p0, p1 (k = 0…3): each broker is the first of one ingest and one rules.
  expect([0, 1, 2, 3].map((k) => brokerListFor(brokers, k))).toEqual([
    'mqtt://b0,mqtt://b1',
    'mqtt://b1,mqtt://b0',
    'mqtt://b0,mqtt://b1',
    'mqtt://b1,mqtt://b0',
  ]);
  expect(brokerListFor(['mqtt://only'], 3)).toBe('mqtt://only');
});

it('names the topology by its brokers and partitions, leaving out the ones', () => {
  expect(topologyName({ topology: 'split', brokers: 1, partitions: 1 })).toBe('split');
  expect(topologyName({ topology: 'split', brokers: 2, partitions: 1 })).toBe('split, 2 brokers');
  expect(topologyName({ topology: 'split', brokers: 2, partitions: 2 })).toBe(
    'split, 2 brokers, 2 partitions',
  );
});

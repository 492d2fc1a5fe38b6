import { Point } from '@influxdata/influxdb-client';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { idArb, roomReadingArb, wearableReadingArb } from '../protocol/arbitraries.ts';
import type { Device } from '../protocol/fleet.ts';
import type { Reading } from '../protocol/parse.ts';
import { readingLine } from './transform.ts';

/** What the library's Point writes for the data model of docs/design.md: the line readingLine must equal. */
function pointLine(center: string, device: Device, reading: Reading): string {
  const point =
    reading.type === 'wearable'
      ? new Point('wearable')
          .tag('center', center)
          .tag('room', device.room)
          .tag('device', device.id)
          .stringField('posture', reading.reading.posture)
          .intField('prone', reading.reading.posture === 'prone' ? 1 : 0)
          .intField('worn', reading.reading.worn ? 1 : 0)
          .floatField('skin_temp', reading.reading.skinTempC)
          .floatField('motion', reading.reading.motion)
          .intField('battery', Math.round(reading.reading.battery))
          .intField('seq', reading.reading.seq)
          .timestamp(reading.reading.ts)
      : new Point('room_env')
          .tag('center', center)
          .tag('room', device.room)
          .tag('device', device.id)
          .floatField('temp', reading.reading.tempC)
          .floatField('humidity', reading.reading.humidity)
          .intField('seq', reading.reading.seq)
          .timestamp(reading.reading.ts);
  if (reading.type === 'wearable') {
    if (device.infant) point.tag('infant', device.infant);
    if (reading.reading.rssi !== undefined) point.intField('rssi', reading.reading.rssi);
    if (reading.reading.respRate !== undefined) point.floatField('resp_rate', reading.reading.respRate);
  } else if (reading.reading.co2ppm !== undefined) point.intField('co2', reading.reading.co2ppm);
  return point.toLineProtocol()!;
}

const deviceArb = (kind: 'wearable' | 'room') =>
  fc.record(
    { id: idArb, kind: fc.constant(kind), center: idArb, room: idArb, infant: idArb },
    { requiredKeys: ['id', 'kind', 'center', 'room'] },
  );

const readingArb: fc.Arbitrary<[Device, Reading]> = fc.oneof(
  fc
    .tuple(deviceArb('wearable'), wearableReadingArb)
    .map(([d, reading]): [Device, Reading] => [d, { type: 'wearable', device: d.id, reading }]),
  fc
    .tuple(deviceArb('room'), roomReadingArb)
    .map(([d, reading]): [Device, Reading] => [d, { type: 'room', device: d.id, reading }]),
);

it('builds the same line as the client library Point for every valid reading', () => {
  fc.assert(
    fc.property(readingArb, ([device, reading]) => {
      expect(readingLine(device.center, device, reading)).toBe(pointLine(device.center, device, reading));
    }),
    { numRuns: 2_000 },
  );
});

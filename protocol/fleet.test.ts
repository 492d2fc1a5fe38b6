import { describe, expect, it } from 'vitest';
import { hashPassword } from '../lib/credentials.ts';
import {
  type Fleet,
  FleetIndex,
  checkPublisher,
  checkReading,
  fleetSchema,
  passwordHashSchema,
} from './fleet.ts';
import { type Message, type Reading, parseMessage } from './parse.ts';
import { topics } from './topics.ts';

const NOW = Date.UTC(2026, 0, 15, 9, 30);
const HASH = 'scrypt$16384$8$1$c2FsdA==$aGFzaA==';

/** Two centres, each with a nap room; wearables, a room sensor, an alarm button and a gateway. */
function sampleFleet(): unknown {
  return {
    centers: [
      { id: 'sunny', name: 'Sunny Days', nameZh: '阳光', timezone: 'Asia/Shanghai' },
      { id: 'oak', name: 'Oak Tree' },
    ],
    rooms: [
      { id: 'nap-1', center: 'sunny', name: 'Nap room 1', napSchedule: [{ start: '12:30', end: '14:30' }] },
      { id: 'nap-2', center: 'sunny', name: 'Nap room 2' },
      { id: 'oak-nap', center: 'oak', name: 'Oak nap room' },
    ],
    devices: [
      { id: 'w-1', kind: 'wearable', center: 'sunny', room: 'nap-1', infant: 'a-07', passwordHash: HASH },
      { id: 'w-ble', kind: 'wearable', center: 'sunny', room: 'nap-1', infant: 'a-08' },
      { id: 'w-2', kind: 'wearable', center: 'sunny', room: 'nap-2', passwordHash: HASH },
      { id: 'env-1', kind: 'room', center: 'sunny', room: 'nap-1', passwordHash: HASH },
      { id: 'btn-1', kind: 'alarm', center: 'sunny', room: 'nap-1', passwordHash: HASH },
      { id: 'gw-1', kind: 'gateway', center: 'sunny', room: 'nap-1', passwordHash: HASH },
      { id: 'oak-w', kind: 'wearable', center: 'oak', room: 'oak-nap', passwordHash: HASH },
    ],
    infants: [
      { id: 'a-07', center: 'sunny', room: 'nap-1', birthMonth: '2025-09', displayName: '小明' },
      {
        id: 'a-08',
        center: 'sunny',
        room: 'nap-1',
        birthMonth: '2025-03',
        displayName: 'Lily',
        rollsBothWays: true,
      },
    ],
  };
}

type Raw = Record<'centers' | 'rooms' | 'devices' | 'infants', Record<string, unknown>[]>;
const raw = () => sampleFleet() as Raw;

function issues(value: unknown): string[] {
  const result = fleetSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const index = () => new FleetIndex(fleetSchema.parse(sampleFleet()) satisfies Fleet);

function message(topic: string, payload: unknown): Message {
  const result = parseMessage(topic, new TextEncoder().encode(JSON.stringify(payload)), { now: NOW });
  if (!result.ok) throw new Error(`test message refused: ${result.reason} ${result.detail}`);
  return result.value;
}

const wearable = {
  ts: NOW,
  seq: 1,
  posture: 'supine',
  skinTempC: 36.2,
  motion: 0.3,
  worn: true,
  battery: 80,
};
const room = { ts: NOW, seq: 1, tempC: 21, humidity: 45 };

describe('fleet schema', () => {
  it('accepts a consistent registry and fills defaults', () => {
    const fleet = fleetSchema.parse(sampleFleet());
    expect(fleet.version).toBe(1);
    expect(fleet.centers[1]!.timezone).toBe('Asia/Shanghai');
    expect(fleet.rooms[1]!.napSchedule).toEqual([]);
    expect(fleet.infants[0]!.rollsBothWays).toBe(false);
  });

  it.each([
    [
      'a duplicate device id',
      (f: Raw) => f.devices.push({ ...f.devices[0]! }),
      'devices.7.id: duplicate id w-1',
    ],
    [
      'a duplicate centre id',
      (f: Raw) => f.centers.push({ id: 'oak', name: 'again' }),
      'centers.2.id: duplicate id oak',
    ],
    [
      'a room in an unknown centre',
      (f: Raw) => (f.rooms[0]!.center = 'nowhere'),
      'rooms.0.center: unknown centre nowhere',
    ],
    [
      'a device in an unknown room',
      (f: Raw) => (f.devices[0]!.room = 'attic'),
      'devices.0.room: unknown room attic',
    ],
    [
      'a device whose room is in another centre',
      (f: Raw) => (f.devices[6]!.room = 'nap-1'),
      'devices.6.center: room nap-1 is in centre sunny',
    ],
    [
      'an infant in an unknown room',
      (f: Raw) => (f.infants[0]!.room = 'attic'),
      'infants.0.room: unknown room attic',
    ],
    [
      'a wearable for an unknown infant',
      (f: Raw) => (f.devices[0]!.infant = 'z-99'),
      'devices.0.infant: unknown infant z-99',
    ],
    [
      'an infant on a non-wearable',
      (f: Raw) => (f.devices[3]!.infant = 'a-07'),
      'devices.3.infant: only a wearable has an infant',
    ],
    [
      'two wearables for one infant',
      (f: Raw) => (f.devices[2]!.infant = 'a-07'),
      'devices.2.infant: infant a-07 already wears w-1',
    ],
    ['a bad device kind', (f: Raw) => (f.devices[0]!.kind = 'toaster'), 'devices.0.kind'],
    ['an id with capitals', (f: Raw) => (f.devices[0]!.id = 'W-1'), 'devices.0.id: ids are 1-64 characters'],
    [
      'a malformed password hash',
      (f: Raw) => (f.devices[0]!.passwordHash = 'plain'),
      'devices.0.passwordHash: expected scrypt',
    ],
    [
      'a bad birth month',
      (f: Raw) => (f.infants[0]!.birthMonth = '2025-13'),
      'infants.0.birthMonth: expected YYYY-MM',
    ],
    [
      'a bad nap schedule time',
      (f: Raw) => (f.rooms[0]!.napSchedule = [{ start: '24:00', end: '25:00' }]),
      'rooms.0.napSchedule.0.start',
    ],
    [
      'a centre called deadletter',
      (f: Raw) => (f.centers[1]!.id = 'deadletter'),
      'centers.1.id: deadletter is reserved',
    ],
    ['no centres', (f: Raw) => (f.centers = []), 'centers: Too small'],
  ])('refuses %s, naming the field', (_what, mutate, expected) => {
    const fleet = raw();
    mutate(fleet);
    expect(issues(fleet).join('\n')).toContain(expected);
  });

  it('accepts what lib/credentials hashPassword produces', () => {
    expect(passwordHashSchema.safeParse(hashPassword('s3cret', { N: 1024 })).success).toBe(true);
  });

  it('indexes the registry for lookups', () => {
    const fleet = index();
    expect(fleet.devices.get('gw-1')?.kind).toBe('gateway');
    expect(fleet.wearableOfInfant.get('a-08')?.id).toBe('w-ble');
    expect(fleet.roomsOf('sunny').map((r) => r.id)).toEqual(['nap-1', 'nap-2']);
    expect(fleet.infantsOf('nap-1').map((i) => i.id)).toEqual(['a-07', 'a-08']);
  });
});

describe('checkPublisher', () => {
  const fleet = index();
  const check = (topic: string, payload: unknown) => checkPublisher(message(topic, payload), fleet);
  const refusal = (result: ReturnType<typeof checkPublisher>) => (result.ok ? 'ok' : result.reason);

  it('accepts a registered device, gateway, alarm button and nap room in their own centre', () => {
    expect(refusal(check(topics.deviceTelemetry('sunny', 'w-1'), { v: 1, ...wearable }))).toBe('ok');
    expect(
      refusal(
        check(topics.gatewayTelemetry('sunny', 'gw-1'), { v: 1, batch: [{ ...wearable, device: 'w-ble' }] }),
      ),
    ).toBe('ok');
    expect(
      refusal(check(topics.deviceAlarm('sunny', 'btn-1'), { v: 1, ts: NOW, seq: 1, event: 'pressed' })),
    ).toBe('ok');
    expect(refusal(check(topics.gatewayStatus('sunny', 'gw-1'), { v: 1, ts: NOW, state: 'online' }))).toBe(
      'ok',
    );
    expect(
      refusal(check(topics.nap('sunny', 'nap-1'), { v: 1, ts: NOW, state: 'started', by: 'staff' })),
    ).toBe('ok');
    expect(refusal(check(topics.alertAck('sunny', 'a1'), { by: 'staff', ts: NOW }))).toBe('ok');
  });

  it('refuses an unregistered publisher as unknown-device', () => {
    expect(refusal(check(topics.deviceTelemetry('sunny', 'ghost'), { v: 1, ...wearable }))).toBe(
      'unknown-device',
    );
    expect(
      refusal(check(topics.deviceAlarm('sunny', 'ghost'), { v: 1, ts: NOW, seq: 1, event: 'pressed' })),
    ).toBe('unknown-device');
    expect(refusal(check(topics.nap('sunny', 'oak-nap'), { v: 1, ts: NOW, state: 'started', by: 'x' }))).toBe(
      'unknown-device',
    );
    expect(refusal(check(topics.nap('sunny', 'attic'), { v: 1, ts: NOW, state: 'started', by: 'x' }))).toBe(
      'unknown-device',
    );
  });

  it('refuses a device publishing under another centre, or under the wrong kind, as topic-mismatch', () => {
    expect(refusal(check(topics.deviceTelemetry('oak', 'w-1'), { v: 1, ...wearable }))).toBe(
      'topic-mismatch',
    );
    // A gateway on a device topic, a device on a gateway topic.
    expect(refusal(check(topics.deviceTelemetry('sunny', 'gw-1'), { v: 1, ...room }))).toBe('topic-mismatch');
    expect(
      refusal(
        check(topics.gatewayTelemetry('sunny', 'w-1'), { v: 1, batch: [{ ...wearable, device: 'w-1' }] }),
      ),
    ).toBe('topic-mismatch');
    // Only an alarm button may press the alarm.
    expect(
      refusal(check(topics.deviceAlarm('sunny', 'w-1'), { v: 1, ts: NOW, seq: 1, event: 'pressed' })),
    ).toBe('topic-mismatch');
  });
});

describe('checkReading', () => {
  const fleet = index();
  const device = (id: string) => fleet.devices.get(id)!;
  const reading = (id: string, type: 'wearable' | 'room'): Reading =>
    type === 'wearable'
      ? { type, device: id, reading: wearable as Extract<Reading, { type: 'wearable' }>['reading'] }
      : { type, device: id, reading: room };
  const outcome = (result: ReturnType<typeof checkReading>) => (result.ok ? result.value.id : result.reason);

  it('returns the registered device of a reading', () => {
    expect(outcome(checkReading(reading('w-1', 'wearable'), device('w-1'), fleet))).toBe('w-1');
    expect(outcome(checkReading(reading('env-1', 'room'), device('env-1'), fleet))).toBe('env-1');
    expect(outcome(checkReading(reading('w-ble', 'wearable'), device('gw-1'), fleet))).toBe('w-ble');
  });

  it('refuses an unknown device, a reading of the wrong kind and a gateway relaying another room', () => {
    expect(outcome(checkReading(reading('ghost', 'wearable'), device('gw-1'), fleet))).toBe('unknown-device');
    expect(outcome(checkReading(reading('w-1', 'room'), device('w-1'), fleet))).toBe('topic-mismatch');
    expect(outcome(checkReading(reading('env-1', 'wearable'), device('env-1'), fleet))).toBe(
      'topic-mismatch',
    );
    expect(outcome(checkReading(reading('btn-1', 'room'), device('gw-1'), fleet))).toBe('topic-mismatch');
    expect(outcome(checkReading(reading('w-2', 'wearable'), device('gw-1'), fleet))).toBe('topic-mismatch');
  });
});

import { describe, expect, it } from 'vitest';
import { type Principal, canPublish, canSubscribe } from './acl.ts';

const wearable: Principal = { type: 'device', id: 'w-1', center: 'c1', kind: 'wearable' };
const room: Principal = { type: 'device', id: 'rs-1', center: 'c1', kind: 'room' };
const alarm: Principal = { type: 'device', id: 'ab-1', center: 'c1', kind: 'alarm' };
const gateway: Principal = { type: 'device', id: 'gw-1', center: 'c1', kind: 'gateway' };
const service = (
  role: 'ingest' | 'rules' | 'caregiver' | 'supervisor' | 'simulator',
  center?: string,
): Principal => ({
  type: 'service',
  username: role,
  role,
  center,
});
const carer = service('caregiver', 'c1');

describe('publish ACL', () => {
  const cases: [string, Principal, string, boolean][] = [
    ['wearable, own telemetry', wearable, 'cw/v1/c1/devices/w-1/telemetry', true],
    ['wearable, own status', wearable, 'cw/v1/c1/devices/w-1/status', true],
    ['wearable, as another device', wearable, 'cw/v1/c1/devices/w-2/telemetry', false],
    ['wearable, own id in another centre', wearable, 'cw/v1/c2/devices/w-1/telemetry', false],
    ['wearable, an alarm', wearable, 'cw/v1/c1/devices/w-1/alarm', false],
    ['wearable, deeper than its channel', wearable, 'cw/v1/c1/devices/w-1/telemetry/x', false],
    ['wearable, as a gateway', wearable, 'cw/v1/c1/gateways/w-1/telemetry', false],
    ['wearable, an alert', wearable, 'cw/v1/c1/alerts/a-1', false],
    ['wearable, outside cw/v1', wearable, 'other/topic', false],
    ['wearable, $SYS', wearable, '$SYS/x', false],
    ["wearable, the broker's hold", wearable, 'cw/v1/$broker/b-1/hold', false],
    [
      "simulator, the broker's hold on a devices-named broker",
      service('simulator'),
      'cw/v1/$broker/devices/hold',
      false,
    ],
    ["rules, the broker's hold", service('rules'), 'cw/v1/$broker/b-1/hold', false],
    ["anonymous, the broker's hold", { type: 'anonymous' }, 'cw/v1/$broker/b-1/hold', false],
    ['room sensor, own telemetry', room, 'cw/v1/c1/devices/rs-1/telemetry', true],
    ['alarm button, own alarm', alarm, 'cw/v1/c1/devices/ab-1/alarm', true],
    ['alarm button, telemetry', alarm, 'cw/v1/c1/devices/ab-1/telemetry', false],
    ['gateway, own telemetry', gateway, 'cw/v1/c1/gateways/gw-1/telemetry', true],
    ['gateway, own status', gateway, 'cw/v1/c1/gateways/gw-1/status', true],
    ['gateway, another gateway', gateway, 'cw/v1/c1/gateways/gw-2/telemetry', false],
    ['gateway, as a device', gateway, 'cw/v1/c1/devices/gw-1/telemetry', false],
    ['ingest, dead letter', service('ingest'), 'cw/v1/deadletter/c1/w-1', true],
    ['ingest, telemetry', service('ingest'), 'cw/v1/c1/devices/w-1/telemetry', false],
    ['rules, an alert', service('rules'), 'cw/v1/c9/alerts/a-1', true],
    ['rules, a nap session', service('rules'), 'cw/v1/c1/rooms/r-1/nap', true],
    ['rules, as a device', service('rules'), 'cw/v1/c1/devices/w-1/alarm', false],
    ['caregiver, ack in own centre', carer, 'cw/v1/c1/alerts/a-1/ack', true],
    ['caregiver, nap in own centre', carer, 'cw/v1/c1/rooms/r-1/nap', true],
    ['caregiver, ack in another centre', carer, 'cw/v1/c2/alerts/a-1/ack', false],
    ['caregiver, raising an alert', carer, 'cw/v1/c1/alerts/a-1', false],
    ['caregiver, as a device', carer, 'cw/v1/c1/devices/w-1/alarm', false],
    ['supervisor, ack in any centre', service('supervisor'), 'cw/v1/c2/alerts/a-1/ack', true],
    ['simulator, as any device', service('simulator'), 'cw/v1/c2/devices/w-9/telemetry', true],
    ['simulator, an alert', service('simulator'), 'cw/v1/c2/alerts/a-1', false],
    ['anonymous, anything', { type: 'anonymous' }, 'any/topic', true],
    ['anonymous, $SYS', { type: 'anonymous' }, '$SYS/x', false],
  ];
  it.each(cases)('%s', (_name, who, topic, allowed) => {
    expect(canPublish(who, topic)).toBe(allowed);
  });
});

describe('subscribe ACL', () => {
  const cases: [string, Principal, string, boolean][] = [
    ['a device, anything', wearable, 'cw/v1/c1/devices/w-1/telemetry', false],
    ['a gateway, anything', gateway, 'cw/v1/c1/rooms/+/nap', false],
    ['ingest, all telemetry', service('ingest'), 'cw/v1/+/devices/+/telemetry', true],
    ['ingest, dead letters', service('ingest'), 'cw/v1/deadletter/#', false],
    ['ingest, #', service('ingest'), '#', false],
    ['rules, alerts everywhere', service('rules'), 'cw/v1/+/alerts/+', true],
    ['caregiver, own alerts', carer, 'cw/v1/c1/alerts/+', true],
    ['caregiver, own alerts, all levels', carer, 'cw/v1/c1/alerts/#', true],
    ['caregiver, own acks', carer, 'cw/v1/c1/alerts/+/ack', true],
    ['caregiver, own naps', carer, 'cw/v1/c1/rooms/+/nap', true],
    ['caregiver, another centre', carer, 'cw/v1/c2/alerts/+', false],
    ['caregiver, every centre', carer, 'cw/v1/+/alerts/+', false],
    ['caregiver, own centre whole', carer, 'cw/v1/c1/#', false],
    ['caregiver, own telemetry', carer, 'cw/v1/c1/devices/+/telemetry', false],
    ['caregiver, any section', carer, 'cw/v1/c1/+/+', false],
    ['caregiver, rooms', carer, 'cw/v1/c1/rooms/#', false],
    ['caregiver, $SYS', carer, '$SYS/#', false],
    ['supervisor, every centre', service('supervisor'), 'cw/v1/+/alerts/+', true],
    ['supervisor, dead letters', service('supervisor'), 'cw/v1/deadletter/#', false],
    ['supervisor, everything', service('supervisor'), 'cw/v1/#', false],
    ['simulator, anything', service('simulator'), 'cw/v1/c1/alerts/+', false],
    ['anonymous, #', { type: 'anonymous' }, '#', true],
    ['anonymous, $SYS', { type: 'anonymous' }, '$SYS/#', false],
  ];
  it.each(cases)('%s', (_name, who, filter, allowed) => {
    expect(canSubscribe(who, filter)).toBe(allowed);
  });
});

import { z } from 'zod';
import { centerIdSchema, idSchema } from './ids.ts';
import type { Message, Reading } from './parse.ts';
import { type ParseResult, refuse } from './reasons.ts';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');

export const centerSchema = z.object({
  id: centerIdSchema,
  name: z.string().min(1),
  nameZh: z.string().min(1).optional(),
  timezone: z.string().min(1).default('Asia/Shanghai'),
});

export const roomSchema = z.object({
  id: idSchema,
  center: idSchema,
  name: z.string().min(1),
  nameZh: z.string().min(1).optional(),
  /** Local times (centre timezone) when the room naps; the rules service starts and ends sessions from it. */
  napSchedule: z.array(z.object({ start: hhmm, end: hhmm })).default([]),
});

export const DEVICE_KINDS = ['wearable', 'room', 'alarm', 'gateway'] as const;
export const deviceKindSchema = z.enum(DEVICE_KINDS);
export type DeviceKind = z.infer<typeof deviceKindSchema>;

/** `scrypt$N$r$p$saltBase64$hashBase64`, produced by lib/credentials.ts. */
export const passwordHashSchema = z
  .string()
  .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, {
    message: 'expected scrypt$N$r$p$salt$hash',
  });

export const deviceSchema = z.object({
  id: idSchema,
  kind: deviceKindSchema,
  center: idSchema,
  room: idSchema,
  /** The infant a wearable is assigned to; a wearable without one is a spare and not monitored. */
  infant: idSchema.optional(),
  /** Absent for a BLE wearable that only reaches MQTT through its room gateway: it cannot log in itself. */
  passwordHash: passwordHashSchema.optional(),
});

export const infantSchema = z.object({
  id: idSchema,
  center: idSchema,
  room: idSchema,
  /** YYYY-MM: the rules need age in months, and nothing finer is kept. */
  birthMonth: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'expected YYYY-MM'),
  /** The only personal datum; stays in the registry and on in-centre screens, never in MQTT or InfluxDB. */
  displayName: z.string().min(1).max(64),
  /** Rolls both ways on their own: a prone alert is a warning, not critical. */
  rollsBothWays: z.boolean().default(false),
});

export const fleetSchema = z
  .object({
    version: z.literal(1).default(1),
    centers: z.array(centerSchema).min(1),
    rooms: z.array(roomSchema).default([]),
    devices: z.array(deviceSchema).default([]),
    infants: z.array(infantSchema).default([]),
  })
  .superRefine((fleet, ctx) => {
    const unique = (list: { id: string }[], key: 'centers' | 'rooms' | 'devices' | 'infants') => {
      const seen = new Set<string>();
      list.forEach((item, i) => {
        if (seen.has(item.id))
          ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id ${item.id}` });
        seen.add(item.id);
      });
      return seen;
    };
    const centers = unique(fleet.centers, 'centers');
    const rooms = new Map(fleet.rooms.map((r) => [r.id, r]));
    unique(fleet.rooms, 'rooms');
    const infants = new Map(fleet.infants.map((i) => [i.id, i]));
    unique(fleet.infants, 'infants');
    // Device and gateway ids share one MQTT username space.
    unique(fleet.devices, 'devices');
    fleet.rooms.forEach((room, i) => {
      if (!centers.has(room.center)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rooms', i, 'center'],
          message: `unknown centre ${room.center}`,
        });
      }
    });
    const checkRoom = (key: 'devices' | 'infants', i: number, center: string, room: string) => {
      const found = rooms.get(room);
      if (!found) ctx.addIssue({ code: 'custom', path: [key, i, 'room'], message: `unknown room ${room}` });
      else if (found.center !== center) {
        ctx.addIssue({
          code: 'custom',
          path: [key, i, 'center'],
          message: `room ${room} is in centre ${found.center}`,
        });
      }
    };
    fleet.infants.forEach((infant, i) => {
      checkRoom('infants', i, infant.center, infant.room);
    });
    const wornBy = new Map<string, string>();
    fleet.devices.forEach((device, i) => {
      checkRoom('devices', i, device.center, device.room);
      if (device.infant === undefined) return;
      const infant = infants.get(device.infant);
      if (device.kind !== 'wearable') {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'infant'],
          message: 'only a wearable has an infant',
        });
      } else if (!infant) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'infant'],
          message: `unknown infant ${device.infant}`,
        });
      } else if (wornBy.has(device.infant)) {
        // FleetIndex.wearableOfInfant keeps one wearable per infant; a second would go unmonitored.
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'infant'],
          message: `infant ${device.infant} already wears ${wornBy.get(device.infant)}`,
        });
      } else {
        wornBy.set(device.infant, device.id);
      }
    });
  });

export type Fleet = z.infer<typeof fleetSchema>;
export type Center = z.infer<typeof centerSchema>;
export type Room = z.infer<typeof roomSchema>;
export type Device = z.infer<typeof deviceSchema>;
export type Infant = z.infer<typeof infantSchema>;

/** Lookups every service needs on the hot path, built once per registry load. */
export class FleetIndex {
  readonly centers: Map<string, Center>;
  readonly rooms: Map<string, Room>;
  readonly devices: Map<string, Device>;
  readonly infants: Map<string, Infant>;
  /** The wearable assigned to each infant. */
  readonly wearableOfInfant: Map<string, Device>;

  /** Wearables in use (assigned to an infant), by centre and by room: what silence is counted against. */
  readonly #inUseByCenter = new Map<string, string[]>();
  readonly #inUseByRoom = new Map<string, string[]>();

  constructor(readonly fleet: Fleet) {
    this.centers = new Map(fleet.centers.map((c) => [c.id, c]));
    this.rooms = new Map(fleet.rooms.map((r) => [r.id, r]));
    this.devices = new Map(fleet.devices.map((d) => [d.id, d]));
    this.infants = new Map(fleet.infants.map((i) => [i.id, i]));
    this.wearableOfInfant = new Map(
      fleet.devices.filter((d) => d.kind === 'wearable' && d.infant).map((d) => [d.infant!, d]),
    );
    for (const d of this.wearableOfInfant.values()) {
      push(this.#inUseByCenter, d.center, d.id);
      if (d.room) push(this.#inUseByRoom, d.room, d.id);
    }
  }

  /** The wearables in use in a centre, or in one room of it. */
  wearablesInUse(center: string, room?: string): readonly string[] {
    const ids = room === undefined ? this.#inUseByCenter.get(center) : this.#inUseByRoom.get(room);
    return ids ?? [];
  }

  roomsOf(center: string): Room[] {
    return this.fleet.rooms.filter((r) => r.center === center);
  }

  infantsOf(room: string): Infant[] {
    return this.fleet.infants.filter((i) => i.room === room);
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The registry half of validation: who published must exist, sit in the topic's centre and be of a kind that may say this. */
export function checkPublisher(message: Message, fleet: FleetIndex): ParseResult<Message> {
  // The broker's own word: no client can publish it (broker/acl.ts).
  if (message.kind === 'broker-hold') return { ok: true, value: message };
  const publisher =
    message.kind === 'telemetry' || message.kind === 'status'
      ? message.source.id
      : message.kind === 'alarm'
        ? message.device
        : null;
  if (publisher === null) {
    if (message.kind === 'nap' && fleet.rooms.get(message.room)?.center !== message.center) {
      return refuse('unknown-device', `room ${message.room} is not in centre ${message.center}`);
    }
    return { ok: true, value: message };
  }
  const device = fleet.devices.get(publisher);
  if (!device) return refuse('unknown-device', `${publisher} is not in the fleet registry`);
  if (device.center !== message.center) {
    return refuse('topic-mismatch', `${publisher} belongs to centre ${device.center}, not ${message.center}`);
  }
  const sourceType =
    message.kind === 'telemetry' || message.kind === 'status' ? message.source.type : 'device';
  if ((sourceType === 'gateway') !== (device.kind === 'gateway')) {
    return refuse('topic-mismatch', `${publisher} is a ${device.kind}, not a ${sourceType}`);
  }
  if (message.kind === 'alarm' && device.kind !== 'alarm') {
    return refuse('topic-mismatch', `${publisher} is a ${device.kind}, not an alarm button`);
  }
  return { ok: true, value: message };
}

/** Checks one reading of a telemetry message against the registry (a gateway relays only its own room's devices). */
export function checkReading(reading: Reading, publisher: Device, fleet: FleetIndex): ParseResult<Device> {
  const device = fleet.devices.get(reading.device);
  if (!device) return refuse('unknown-device', `${reading.device} is not in the fleet registry`);
  if (publisher.kind === 'gateway' && device.room !== publisher.room) {
    return refuse(
      'topic-mismatch',
      `gateway ${publisher.id} relays room ${publisher.room}, not ${device.room}`,
    );
  }
  const expected = reading.type === 'wearable' ? 'wearable' : 'room';
  if (device.kind !== expected) {
    return refuse(
      'topic-mismatch',
      `${device.id} is a ${device.kind} device but sent a ${reading.type} reading`,
    );
  }
  return { ok: true, value: device };
}

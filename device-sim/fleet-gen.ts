import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { ConfigError } from '../protocol/config.ts';
import { type Device, type Fleet, type Infant, fleetSchema } from '../protocol/fleet.ts';
import { describeZodError } from '../protocol/reasons.ts';
import { hashPassword } from '../lib/credentials.ts';
import { Prng } from './prng.ts';

export interface FleetShape {
  centers: number;
  roomsPerCenter: number;
  infantsPerRoom: number;
  /** Room gateways relay their room's wearables over BLE; those wearables get no password hash. */
  gateways: boolean;
  /** Infant id → age in months, for a scenario about one infant (prone sleep needs one under 12 months). */
  ages?: Record<string, number>;
}

export interface GenerateFleetOptions extends FleetShape {
  seed: number | string;
  /** scrypt N for the registry's hashes; null leaves hashes out (an anonymous broker needs none). */
  hashCost?: number | null;
  /** YYYY-MM the infants' ages are counted back from; fixed in tests so the registry is repeatable. */
  referenceMonth: string;
}

export interface GeneratedFleet {
  fleet: Fleet;
  /** Device id → clear password, for the simulator only; never written into the registry. */
  credentials: Record<string, string>;
}

/** Ids of a generated fleet, shared by the generator, the scenarios and the tests. */
export const ids = {
  center: (c: number) => `c${c}`,
  room: (c: number, r: number) => `c${c}-r${r}`,
  infant: (room: string, i: number) => `${room}-i${i}`,
  wearable: (infant: string) => `w-${infant}`,
  roomSensor: (room: string) => `rs-${room}`,
  alarm: (room: string) => `ab-${room}`,
  gateway: (room: string) => `gw-${room}`,
} as const;

/** "A", "B", … "Z", "AA": a room letter for display names like "A-07". */
function roomLetter(index: number): string {
  let n = index;
  let out = '';
  do {
    out = String.fromCharCode(65 + (n % 26)) + out;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return out;
}

function monthsBefore(referenceMonth: string, months: number): string {
  const [year, month] = referenceMonth.split('-').map(Number) as [number, number];
  const total = year * 12 + (month - 1) - months;
  return `${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, '0')}`;
}

export function monthOf(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function checkShape(options: GenerateFleetOptions): void {
  for (const key of ['centers', 'roomsPerCenter', 'infantsPerRoom'] as const) {
    const value = options[key];
    if (!Number.isInteger(value) || value < 1)
      throw new ConfigError(`${key} must be a whole number ≥ 1, got ${value}`);
  }
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(options.referenceMonth)) {
    throw new ConfigError(`referenceMonth must be YYYY-MM, got ${options.referenceMonth}`);
  }
  const cost = options.hashCost;
  if (
    cost !== undefined &&
    cost !== null &&
    (!Number.isInteger(cost) || cost < 2 || (cost & (cost - 1)) !== 0)
  ) {
    throw new ConfigError(`hashCost must be a power of two ≥ 2, got ${cost}`);
  }
}

/**
 * Builds a registry of the given shape. Structure, ages and names follow the seed; passwords and salts are
 * real random bytes, because a registry generated here may guard a real broker.
 */
export function generateFleet(options: GenerateFleetOptions): GeneratedFleet {
  checkShape(options);
  const rng = Prng.derive(options.seed, 'fleet');
  const hashCost = options.hashCost === undefined ? 16_384 : options.hashCost;
  const credentials: Record<string, string> = {};
  const fleet: Fleet = { version: 1, centers: [], rooms: [], devices: [], infants: [] };
  const addDevice = (device: Omit<Device, 'passwordHash'>, canLogIn: boolean) => {
    const entry: Device = { ...device };
    if (canLogIn) {
      const password = randomBytes(18).toString('base64url');
      credentials[device.id] = password;
      if (hashCost !== null) entry.passwordHash = hashPassword(password, { N: hashCost });
    }
    fleet.devices.push(entry);
  };
  for (let c = 1; c <= options.centers; c++) {
    const center = ids.center(c);
    fleet.centers.push({
      id: center,
      name: `Centre ${c}`,
      nameZh: `第${c}托育中心`,
      timezone: 'Asia/Shanghai',
    });
    for (let r = 1; r <= options.roomsPerCenter; r++) {
      const room = ids.room(c, r);
      fleet.rooms.push({ id: room, center, name: `Nap room ${r}`, nameZh: `${r} 号睡眠室`, napSchedule: [] });
      addDevice({ id: ids.roomSensor(room), kind: 'room', center, room }, true);
      addDevice({ id: ids.alarm(room), kind: 'alarm', center, room }, true);
      if (options.gateways) addDevice({ id: ids.gateway(room), kind: 'gateway', center, room }, true);
      for (let i = 1; i <= options.infantsPerRoom; i++) {
        const infant = ids.infant(room, i);
        // Drawn even when pinned, so pinning one infant leaves the rest of the fleet as the seed made it.
        const drawn = rng.int(3, 23);
        const ageMonths = options.ages?.[infant] ?? drawn;
        const entry: Infant = {
          id: infant,
          center,
          room,
          birthMonth: monthsBefore(options.referenceMonth, ageMonths),
          displayName: `${roomLetter(r - 1)}-${String(i).padStart(2, '0')}`,
          rollsBothWays: drawn >= 7 && rng.chance(0.5) && ageMonths >= 7,
        };
        fleet.infants.push(entry);
        addDevice({ id: ids.wearable(infant), kind: 'wearable', center, room, infant }, !options.gateways);
      }
    }
  }
  const checked = fleetSchema.safeParse(fleet);
  if (!checked.success) throw new Error(`generated fleet is invalid: ${describeZodError(checked.error)}`);
  return { fleet: checked.data, credentials };
}

/** Writes the registry and, separately, the clear passwords (mode 0600: they are secrets). */
export function writeFleetFiles(generated: GeneratedFleet, fleetFile: string, credentialsFile: string): void {
  writeFileSync(fleetFile, stringify(generated.fleet));
  writeFileSync(credentialsFile, stringify({ devices: generated.credentials }), { mode: 0o600 });
}

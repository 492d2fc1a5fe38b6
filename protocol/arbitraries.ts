import fc from 'fast-check';
import { ID_PATTERN, isCenterId } from './ids.ts';
import {
  ALERT_STATES,
  type AlarmEvent,
  type Alert,
  type AlertAck,
  type DeadLetter,
  type DeviceStatus,
  LIMITS,
  LOCALES,
  type NapSession,
  POSTURES,
  RULE_IDS,
  type RoomReading,
  SEVERITIES,
  type WearableReading,
} from './payloads.ts';
import { REASONS } from './reasons.ts';

/**
 * fast-check arbitraries for every valid wire message, shared by the protocol property tests and by any
 * suite that needs realistic traffic. Timestamps sit within the default skew window around ARB_NOW, so
 * parse with `{ now: ARB_NOW }` (or `maxSkewMs: null`).
 */
export const ARB_NOW = Date.UTC(2026, 0, 15, 9, 30);

export const idArb: fc.Arbitrary<string> = fc.stringMatching(ID_PATTERN);
export const centerIdArb: fc.Arbitrary<string> = idArb.filter(isCenterId);

export const tsArb = (now = ARB_NOW): fc.Arbitrary<number> =>
  fc.integer({ min: now - LIMITS.defaultMaxClockSkewMs, max: now + LIMITS.defaultMaxClockSkewMs });

const seqArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const real = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

export const wearableReadingArb: fc.Arbitrary<WearableReading> = fc.record(
  {
    ts: tsArb(),
    seq: seqArb,
    posture: fc.constantFrom(...POSTURES),
    skinTempC: real(20, 45),
    motion: real(0, 1),
    worn: fc.boolean(),
    battery: real(0, 100),
    rssi: fc.integer({ min: -127, max: 0 }),
    respRate: real(0, 150),
  },
  { requiredKeys: ['ts', 'seq', 'posture', 'skinTempC', 'motion', 'worn', 'battery'] },
);

export const roomReadingArb: fc.Arbitrary<RoomReading> = fc.record(
  {
    ts: tsArb(),
    seq: seqArb,
    tempC: real(-30, 70),
    humidity: real(0, 100),
    co2ppm: fc.integer({ min: 0, max: 50_000 }),
  },
  { requiredKeys: ['ts', 'seq', 'tempC', 'humidity'] },
);

export const wearableMessageArb = wearableReadingArb.map((r) => ({ v: 1 as const, ...r }));
export const roomMessageArb = roomReadingArb.map((r) => ({ v: 1 as const, ...r }));

export const alarmEventArb: fc.Arbitrary<AlarmEvent> = fc.record({
  v: fc.constant(1 as const),
  ts: tsArb(),
  seq: seqArb,
  event: fc.constant('pressed' as const),
});

export const statusArb: fc.Arbitrary<DeviceStatus> = fc.record(
  {
    v: fc.constant(1 as const),
    ts: tsArb(),
    state: fc.constantFrom('online' as const, 'offline' as const),
    fw: fc.string({ maxLength: 64 }),
    battery: real(0, 100),
  },
  { requiredKeys: ['v', 'ts', 'state'] },
);

/** Free text staff or apps write (`by`): any Unicode, including CJK and astral characters. */
const actorArb = fc.string({ minLength: 1, maxLength: 128, unit: 'grapheme' }).filter((s) => s.length <= 128);

export const napSessionArb: fc.Arbitrary<NapSession> = fc.record({
  v: fc.constant(1 as const),
  ts: tsArb(),
  state: fc.constantFrom('started' as const, 'ended' as const),
  by: actorArb,
});

export const ackArb: fc.Arbitrary<AlertAck> = fc.record({ by: actorArb, ts: tsArb() });

export type BatchItem = (WearableReading | RoomReading) & { device?: string };
export type BatchMessage = { v: 1; batch: BatchItem[] };

const readingArb: fc.Arbitrary<WearableReading | RoomReading> = fc.oneof(wearableReadingArb, roomReadingArb);

/** Drops readings from the end until the encoded message fits the size limit. */
function fitToLimit(message: BatchMessage): BatchMessage {
  const batch = [...message.batch];
  let size = encodeJson(message).byteLength;
  while (batch.length > 1 && size > LIMITS.maxMessageBytes) {
    // The item and the comma before it.
    size -= encodeJson(batch.pop()).byteLength + 1;
  }
  return { ...message, batch };
}

/** Lengths up to the 100-reading limit, not fast-check's default of about ten. */
const BATCH_LENGTH = { minLength: 1, maxLength: LIMITS.maxBatchReadings, size: 'medium' } as const;

/**
 * A device's own batch (1..100 readings, each naming the device or not) for the device `device`. Long
 * batches of long ids can exceed 16 KiB, so the tail is trimmed to fit: every generated message is valid.
 */
export const deviceBatchArb = (device: string): fc.Arbitrary<BatchMessage> =>
  fc
    .array(fc.tuple(readingArb, fc.boolean()), BATCH_LENGTH)
    .map((items) => ({
      v: 1 as const,
      batch: items.map(([reading, named]) => (named ? { ...reading, device } : reading)),
    }))
    .map(fitToLimit);

/** A room gateway's batch: every reading names one of the room's devices. */
export const gatewayBatchArb: fc.Arbitrary<BatchMessage> = fc
  .uniqueArray(idArb, { minLength: 1, maxLength: 8 })
  .chain((devices) => fc.array(fc.tuple(readingArb, fc.constantFrom(...devices)), BATCH_LENGTH))
  .map((items) => ({ v: 1 as const, batch: items.map(([reading, device]) => ({ ...reading, device })) }))
  .map(fitToLimit);

const alertBaseArb = fc.record(
  {
    id: idArb,
    center: centerIdArb,
    room: idArb,
    rule: fc.constantFrom(...RULE_IDS),
    severity: fc.constantFrom(...SEVERITIES),
    state: fc.constantFrom(...ALERT_STATES),
    subject: fc.record({
      kind: fc.constantFrom('infant' as const, 'room' as const, 'device' as const),
      id: idArb,
    }),
    value: real(-1e6, 1e6),
    raisedAt: tsArb(),
    ageMs: fc.integer({ min: 0, max: 3_600_000 }),
    acknowledgedBy: actorArb,
    escalated: fc.boolean(),
    notifications: fc.integer({ min: 1, max: 10_000 }),
    // zod 4 records over an enum are exhaustive: every locale has its text.
    message: fc
      .tuple(...LOCALES.map(() => fc.string({ maxLength: 200 })))
      .map(
        (texts) =>
          Object.fromEntries(LOCALES.map((locale, i) => [locale, texts[i]!])) as Record<
            (typeof LOCALES)[number],
            string
          >,
      ),
  },
  {
    requiredKeys: [
      'id',
      'center',
      'rule',
      'severity',
      'state',
      'subject',
      'raisedAt',
      'ageMs',
      'escalated',
      'notifications',
      'message',
    ],
  },
);

/** A retained alert as the rules service publishes it; its times are ordered as a real lifecycle orders them. */
export const alertArb: fc.Arbitrary<Alert> = alertBaseArb.map(({ ageMs, acknowledgedBy, ...base }) => {
  const updatedAt = base.raisedAt + ageMs;
  return {
    v: 1 as const,
    ...base,
    updatedAt,
    ...(acknowledgedBy === undefined ? {} : { acknowledgedBy, acknowledgedAt: updatedAt }),
    ...(base.state === 'resolved' ? { resolvedAt: updatedAt } : {}),
  };
});

export const deadLetterArb: fc.Arbitrary<DeadLetter> = fc
  .record(
    {
      ts: tsArb(),
      topic: fc.string({ maxLength: 300 }),
      reason: fc.constantFrom(...REASONS),
      detail: fc.string({ maxLength: 300 }),
      bytes: fc.oneof(
        fc.string({ maxLength: 500 }).map((s) => new TextEncoder().encode(s)),
        fc.uint8Array({ maxLength: 500 }),
      ),
      center: centerIdArb,
      device: idArb,
    },
    { requiredKeys: ['ts', 'topic', 'reason', 'detail', 'bytes'] },
  )
  .map(({ bytes, ...rest }) => {
    const text = decodeUtf8(bytes);
    return {
      v: 1 as const,
      ...rest,
      payload: text ?? Buffer.from(bytes).toString('base64'),
      encoding: text === undefined ? ('base64' as const) : ('utf8' as const),
    };
  });

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

import { z } from 'zod';
import { idSchema } from './ids.ts';
import { reasonSchema } from './reasons.ts';

/** Hard limits from docs/design.md; ingest and the broker both enforce them. */
export const LIMITS = {
  maxMessageBytes: 16 * 1024,
  maxBatchReadings: 100,
  defaultMaxClockSkewMs: 5 * 60 * 1000,
} as const;

const version = z.literal(1);
/** Milliseconds since the epoch on the device clock; 2000-01-01 .. 2100-01-01 keeps garbage out. */
export const timestampSchema = z.int().min(946_684_800_000).max(4_102_444_800_000);
const seq = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const POSTURES = ['supine', 'prone', 'side', 'upright', 'unknown'] as const;
export const postureSchema = z.enum(POSTURES);
export type Posture = z.infer<typeof postureSchema>;

/** Fields of a wearable reading, without the envelope (`v`) so batches can reuse them. */
export const wearableFields = z.object({
  ts: timestampSchema,
  seq,
  posture: postureSchema,
  skinTempC: z.number().min(20).max(45),
  motion: z.number().min(0).max(1),
  worn: z.boolean(),
  battery: z.number().min(0).max(100),
  rssi: z.int().min(-127).max(0).optional(),
  respRate: z.number().min(0).max(150).optional(),
});
export type WearableReading = z.infer<typeof wearableFields>;

export const roomFields = z.object({
  ts: timestampSchema,
  seq,
  tempC: z.number().min(-30).max(70),
  humidity: z.number().min(0).max(100),
  co2ppm: z.int().min(0).max(50_000).optional(),
});
export type RoomReading = z.infer<typeof roomFields>;

export const wearableMessageSchema = wearableFields.extend({ v: version });
export const roomMessageSchema = roomFields.extend({ v: version });

/** A reading inside a batch may name its device; a gateway batch must (checked by the parser). */
export const wearableBatchItemSchema = wearableFields.extend({ device: idSchema.optional() });
export const roomBatchItemSchema = roomFields.extend({ device: idSchema.optional() });

export const alarmEventSchema = z.object({
  v: version,
  ts: timestampSchema,
  seq,
  event: z.literal('pressed'),
});
export type AlarmEvent = z.infer<typeof alarmEventSchema>;

export const statusSchema = z.object({
  v: version,
  ts: timestampSchema,
  state: z.enum(['online', 'offline']),
  fw: z.string().max(64).optional(),
  battery: z.number().min(0).max(100).optional(),
});
export type DeviceStatus = z.infer<typeof statusSchema>;

/**
 * A broker holding telemetry publishers so its subscribers can catch up (`held`), repeated each second
 * while it does, and once more when it reads them again. Published by the broker itself, never a client.
 */
export const brokerHoldSchema = z.object({
  v: version,
  ts: timestampSchema,
  held: z.boolean(),
  backlogBytes: z.int().nonnegative(),
});
export type BrokerHold = z.infer<typeof brokerHoldSchema>;

export const napSessionSchema = z.object({
  v: version,
  ts: timestampSchema,
  state: z.enum(['started', 'ended']),
  by: z.string().min(1).max(128),
});
export type NapSession = z.infer<typeof napSessionSchema>;

export const ackSchema = z.object({
  by: z.string().min(1).max(128),
  ts: timestampSchema,
});
export type AlertAck = z.infer<typeof ackSchema>;

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;

export const ALERT_STATES = ['raised', 'acknowledged', 'escalated', 'resolved'] as const;
export const alertStateSchema = z.enum(ALERT_STATES);
export type AlertState = z.infer<typeof alertStateSchema>;

export const RULE_IDS = [
  'prone-sleep',
  'no-movement',
  'side-sleep',
  'room-hot',
  'room-cold',
  'humidity',
  'skin-temp-rise',
  'one-key-alarm',
  'wearable-off',
  'monitoring-lost',
  'low-battery',
] as const;
/**
 * An alert's rule: the shipped ones above, or any rule a deployment's rules registry adds (one module
 * under rules/engine/rules/), so adding a rule needs no change to the wire contract.
 */
export const ruleIdSchema = idSchema;
export type RuleId = z.infer<typeof ruleIdSchema>;

export const LOCALES = ['zh-CN', 'en'] as const;
export const localeSchema = z.enum(LOCALES);
export type Locale = z.infer<typeof localeSchema>;

/** The retained alert message on `cw/v1/{center}/alerts/{id}` and the body of every alert channel. */
export const alertSchema = z.object({
  v: version,
  id: idSchema,
  center: idSchema,
  room: idSchema.optional(),
  rule: ruleIdSchema,
  severity: severitySchema,
  state: alertStateSchema,
  /** `center`: an alert about a whole centre (its input delayed, most of its wearables silent at once). */
  subject: z.object({ kind: z.enum(['infant', 'room', 'device', 'center']), id: idSchema }),
  /** The measured value that made the condition true (seconds prone, °C, battery %); absent for alarms. */
  value: z.number().optional(),
  /** The devices an alert about a room or a centre names (one cause, one alert: a gateway or uplink down). */
  devices: z.array(idSchema).max(1000).optional(),
  raisedAt: timestampSchema,
  updatedAt: timestampSchema,
  acknowledgedBy: z.string().optional(),
  acknowledgedAt: timestampSchema.optional(),
  resolvedAt: timestampSchema.optional(),
  escalated: z.boolean(),
  /** Bumped on every notification (reminders, repeated presses), so clients can tell a re-notify apart. */
  notifications: z.int().min(1),
  message: z.record(localeSchema, z.string()),
});
export type Alert = z.infer<typeof alertSchema>;

export const deadLetterSchema = z.object({
  v: version,
  ts: timestampSchema,
  topic: z.string(),
  /** One of the contract's reasons, so consumers and metrics can switch on it. */
  reason: reasonSchema,
  detail: z.string(),
  /** Original bytes (or their first part): UTF-8 text where they decode, base64 otherwise. */
  payload: z.string(),
  encoding: z.enum(['utf8', 'base64']),
  center: idSchema.optional(),
  device: idSchema.optional(),
  /** Size of the original bytes; `payload` then holds only their first part when `truncated`. */
  size: z.int().min(0).optional(),
  truncated: z.boolean().optional(),
  /** SHA-256 of the original bytes: the name they are kept under in the dead-letter store. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

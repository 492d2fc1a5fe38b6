import type { z } from 'zod';
import {
  LIMITS,
  ackSchema,
  alarmEventSchema,
  brokerHoldSchema,
  napSessionSchema,
  roomBatchItemSchema,
  roomMessageSchema,
  statusSchema,
  wearableBatchItemSchema,
  wearableMessageSchema,
  type AlarmEvent,
  type AlertAck,
  type BrokerHold,
  type DeviceStatus,
  type NapSession,
  type RoomReading,
  type WearableReading,
} from './payloads.ts';
import { type ParseResult, type Reason, describeZodError, refuse } from './reasons.ts';
import { type ParsedTopic, parseTopic } from './topics.ts';

export type Reading =
  | { type: 'wearable'; device: string; reading: WearableReading }
  | { type: 'room'; device: string; reading: RoomReading };

export interface ItemRefusal {
  /** Position in the batch; the item's own JSON goes to the dead-letter record. */
  index: number;
  item: unknown;
  device?: string;
  reason: Reason;
  detail: string;
}

export type Message =
  | {
      kind: 'telemetry';
      center: string;
      /** Who published: the device itself, or a room gateway relaying its room's wearables. */
      source: { type: 'device' | 'gateway'; id: string };
      readings: Reading[];
      /** Batch items refused on their own; the rest of the batch is still good. */
      refused: ItemRefusal[];
    }
  | { kind: 'alarm'; center: string; device: string; event: AlarmEvent }
  | {
      kind: 'status';
      center: string;
      source: { type: 'device' | 'gateway'; id: string };
      status: DeviceStatus;
    }
  | { kind: 'nap'; center: string; room: string; nap: NapSession }
  | { kind: 'alert-ack'; center: string; alertId: string; ack: AlertAck }
  | { kind: 'alert-resolve'; center: string; alertId: string; ack: AlertAck }
  | { kind: 'broker-hold'; broker: string; hold: BrokerHold };

export interface ParseOptions {
  /** Server time in ms; defaults to Date.now(). */
  now?: number;
  /** Allowed |ts - now|; null switches the check off (replays and benchmarks run ahead of the wall clock). */
  maxSkewMs?: number | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes and JSON-parses a payload, refusing oversized, non-UTF-8 and non-JSON bytes with their reason. */
export function decodeJson(payload: Uint8Array): ParseResult<unknown> {
  if (payload.byteLength > LIMITS.maxMessageBytes) {
    return refuse('too-large', `${payload.byteLength} bytes > ${LIMITS.maxMessageBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return refuse('bad-utf8', 'payload is not valid UTF-8');
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return refuse('not-json', (error as Error).message.slice(0, 200));
  }
}

/**
 * Decodes and validates a payload that arrives outside the device topics (a retained alert, a dead-letter
 * record): the same refusal reasons as parseMessage, never a throw.
 */
export function parsePayload<T>(schema: z.ZodType<T>, payload: Uint8Array): ParseResult<T> {
  const decoded = decodeJson(payload);
  return decoded.ok ? validate(schema, decoded.value) : decoded;
}

function checkSkew(ts: number, options: ParseOptions): ParseResult<true> {
  const maxSkew = options.maxSkewMs === undefined ? LIMITS.defaultMaxClockSkewMs : options.maxSkewMs;
  if (maxSkew === null) return { ok: true, value: true };
  const skew = ts - (options.now ?? Date.now());
  if (Math.abs(skew) > maxSkew)
    return refuse('clock-skew', `ts is ${Math.round(skew / 1000)} s off server time`);
  return { ok: true, value: true };
}

function validate<T>(schema: z.ZodType<T>, value: unknown): ParseResult<T> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, value: result.data } : refuse('schema', describeZodError(result.error));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A reading is a wearable one when it carries a posture, a room one when it carries tempC. */
function readingKind(value: Record<string, unknown>): 'wearable' | 'room' | null {
  if ('posture' in value) return 'wearable';
  if ('tempC' in value) return 'room';
  return null;
}

function parseSingleReading(value: Record<string, unknown>, device: string, options: ParseOptions) {
  const kind = readingKind(value);
  if (kind === null)
    return refuse('schema', '(root): neither a wearable reading (posture) nor a room reading (tempC)');
  const parsed =
    kind === 'wearable' ? validate(wearableMessageSchema, value) : validate(roomMessageSchema, value);
  if (!parsed.ok) return parsed;
  const skew = checkSkew(parsed.value.ts, options);
  if (!skew.ok) return skew;
  const { v: _v, ...reading } = parsed.value;
  return { ok: true as const, value: { type: kind, device, reading } as Reading };
}

/** One item of a batch: a reading, or why it alone is refused (the rest of the batch still counts). */
function parseBatchItem(
  item: unknown,
  source: { type: 'device' | 'gateway'; id: string },
  options: ParseOptions,
): { ok: true; value: Reading } | { ok: false; refusal: Omit<ItemRefusal, 'index' | 'item'> } {
  const fail = (reason: Reason, detail: string, device?: string) => ({
    ok: false as const,
    refusal: { reason, detail, ...(device ? { device } : {}) },
  });
  if (!isRecord(item)) return fail('schema', 'expected an object');
  const kind = readingKind(item);
  if (kind === null) return fail('schema', 'neither a wearable reading (posture) nor a room reading (tempC)');
  const parsed =
    kind === 'wearable' ? validate(wearableBatchItemSchema, item) : validate(roomBatchItemSchema, item);
  if (!parsed.ok) return fail(parsed.reason, parsed.detail);
  const { device: named, ...reading } = parsed.value;
  if (source.type === 'gateway' && named === undefined)
    return fail('schema', 'device: required in a gateway batch');
  if (source.type === 'device' && named !== undefined && named !== source.id) {
    return fail('topic-mismatch', `device ${named} in the batch of ${source.id}`, named);
  }
  const device = named ?? source.id;
  const skew = checkSkew(reading.ts, options);
  if (!skew.ok) return fail(skew.reason, skew.detail, device);
  return { ok: true, value: { type: kind, device, reading } as Reading };
}

function parseBatch(
  value: Record<string, unknown>,
  source: { type: 'device' | 'gateway'; id: string },
  options: ParseOptions,
): ParseResult<{ readings: Reading[]; refused: ItemRefusal[] }> {
  if (value.v !== 1) return refuse('schema', 'v: expected 1');
  const batch = value.batch;
  if (!Array.isArray(batch)) return refuse('schema', 'batch: expected an array');
  if (batch.length === 0) return refuse('empty-batch', 'batch has no readings');
  if (batch.length > LIMITS.maxBatchReadings) {
    return refuse('batch-too-large', `${batch.length} readings > ${LIMITS.maxBatchReadings}`);
  }
  const readings: Reading[] = [];
  const refused: ItemRefusal[] = [];
  batch.forEach((item: unknown, index) => {
    const result = parseBatchItem(item, source, options);
    if (result.ok) readings.push(result.value);
    else refused.push({ index, item, ...result.refusal, detail: `batch.${index}: ${result.refusal.detail}` });
  });
  return { ok: true, value: { readings, refused } };
}

function parseTelemetry(
  topic: Extract<ParsedTopic, { kind: 'device' | 'gateway' }>,
  value: unknown,
  options: ParseOptions,
): ParseResult<Message> {
  if (!isRecord(value)) return refuse('schema', '(root): expected an object');
  const source =
    topic.kind === 'device'
      ? { type: 'device' as const, id: topic.device }
      : { type: 'gateway' as const, id: topic.gateway };
  if ('batch' in value) {
    const batch = parseBatch(value, source, options);
    if (!batch.ok) return batch;
    return { ok: true, value: { kind: 'telemetry', center: topic.center, source, ...batch.value } };
  }
  if (source.type === 'gateway') return refuse('schema', 'batch: a gateway publishes {v, batch: [...]}');
  const single = parseSingleReading(value, source.id, options);
  if (!single.ok) return single;
  return {
    ok: true,
    value: { kind: 'telemetry', center: topic.center, source, readings: [single.value], refused: [] },
  };
}

/**
 * Parses one MQTT message into a typed value or a machine-readable refusal. Never throws: anything a
 * device can send ends here as a value or a reason.
 */
export function parseMessage(
  topic: string,
  payload: Uint8Array,
  options: ParseOptions = {},
): ParseResult<Message> {
  const where = parseTopic(topic);
  if (where === null)
    return refuse('bad-topic', `topic ${JSON.stringify(topic.slice(0, 200))} is outside cw/v1`);
  if (where.kind === 'alert' || where.kind === 'alert-transition' || where.kind === 'deadletter') {
    return refuse(
      'bad-topic',
      `${where.kind} topics are published by cradlewatch services, not parsed as input`,
    );
  }
  const decoded = decodeJson(payload);
  if (!decoded.ok) return decoded;
  const value = decoded.value;
  switch (where.kind) {
    case 'device':
    case 'gateway': {
      if (where.channel === 'telemetry') return parseTelemetry(where, value, options);
      if (where.kind === 'device' && where.channel === 'alarm') {
        const event = validate(alarmEventSchema, value);
        if (!event.ok) return event;
        const skew = checkSkew(event.value.ts, options);
        if (!skew.ok) return skew;
        return {
          ok: true,
          value: { kind: 'alarm', center: where.center, device: where.device, event: event.value },
        };
      }
      const status = validate(statusSchema, value);
      if (!status.ok) return status;
      const source =
        where.kind === 'device'
          ? { type: 'device' as const, id: where.device }
          : { type: 'gateway' as const, id: where.gateway };
      return { ok: true, value: { kind: 'status', center: where.center, source, status: status.value } };
    }
    case 'nap': {
      const nap = validate(napSessionSchema, value);
      if (!nap.ok) return nap;
      return { ok: true, value: { kind: 'nap', center: where.center, room: where.room, nap: nap.value } };
    }
    case 'broker-hold': {
      const hold = validate(brokerHoldSchema, value);
      if (!hold.ok) return hold;
      return { ok: true, value: { kind: 'broker-hold', broker: where.broker, hold: hold.value } };
    }
    case 'alert-ack':
    case 'alert-resolve': {
      const ack = validate(ackSchema, value);
      if (!ack.ok) return ack;
      return {
        ok: true,
        value: { kind: where.kind, center: where.center, alertId: where.alertId, ack: ack.value },
      };
    }
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARB_NOW,
  ackArb,
  centerIdArb,
  alarmEventArb,
  alertArb,
  deadLetterArb,
  deviceBatchArb,
  encodeJson,
  gatewayBatchArb,
  idArb,
  napSessionArb,
  roomMessageArb,
  statusArb,
  wearableMessageArb,
} from './arbitraries.ts';
import { type Message, parseMessage, parsePayload } from './parse.ts';
import {
  LIMITS,
  ackSchema,
  alarmEventSchema,
  alertSchema,
  deadLetterSchema,
  napSessionSchema,
  roomMessageSchema,
  statusSchema,
  wearableMessageSchema,
} from './payloads.ts';
import { REASONS, type ParseResult, type Reason } from './reasons.ts';
import { topics } from './topics.ts';

const RUNS = { numRuns: 1_000 };
const OPTIONS = { now: ARB_NOW };
const TS_MIN = 946_684_800_000;
const TS_MAX = 4_102_444_800_000;

type Obj = Record<string, unknown>;
type Range = { min?: number; max?: number; int?: boolean };

/** One wire schema as the property tests see it: valid cases, how to parse them, and what may be mutated. */
interface SchemaCase {
  name: string;
  arb: fc.Arbitrary<{ topic: string; value: Obj }>;
  parse(topic: string, payload: Uint8Array): ParseResult<unknown>;
  /** What a successful parse must hold, given the JSON round trip of the input. */
  expectValue(result: unknown, input: Obj): void;
  required: string[];
  numbers: Record<string, Range>;
  /** The timestamp field the parser holds against server time, if any. */
  skewField?: string;
}

const ts: Range = { min: TS_MIN, max: TS_MAX, int: true };
const seq: Range = { min: 0, max: Number.MAX_SAFE_INTEGER, int: true };
const percent: Range = { min: 0, max: 100 };

const at = <T extends Obj>(arb: fc.Arbitrary<T>, topic: (a: string, b: string) => string) =>
  fc
    .record({ a: centerIdArb, b: idArb, value: arb })
    .map(({ a, b, value }) => ({ topic: topic(a, b), value: value as Obj }));

const roundTrip = (value: Obj): Obj => JSON.parse(JSON.stringify(value)) as Obj;
const withoutV = ({ v: _v, ...rest }: Obj): Obj => rest;
const asMessage = (result: unknown) => result as Message;

const singleReading = (result: unknown, input: Obj) => {
  const message = asMessage(result);
  expect(message.kind).toBe('telemetry');
  if (message.kind !== 'telemetry') return;
  expect(message.refused).toEqual([]);
  expect(message.readings.map((r) => r.reading)).toEqual([withoutV(roundTrip(input))]);
};

const SCHEMAS: SchemaCase[] = [
  {
    name: 'wearable reading',
    arb: at(wearableMessageArb, topics.deviceTelemetry),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: singleReading,
    required: ['v', 'ts', 'seq', 'posture', 'skinTempC', 'motion', 'worn', 'battery'],
    numbers: {
      ts,
      seq,
      skinTempC: { min: 20, max: 45 },
      motion: { min: 0, max: 1 },
      battery: percent,
      rssi: { min: -127, max: 0, int: true },
      respRate: { min: 0, max: 150 },
    },
    skewField: 'ts',
  },
  {
    name: 'room reading',
    arb: at(roomMessageArb, topics.deviceTelemetry),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: singleReading,
    required: ['v', 'ts', 'seq', 'tempC', 'humidity'],
    numbers: {
      ts,
      seq,
      tempC: { min: -30, max: 70 },
      humidity: percent,
      co2ppm: { min: 0, max: 50_000, int: true },
    },
    skewField: 'ts',
  },
  {
    name: 'alarm event',
    arb: at(alarmEventArb, topics.deviceAlarm),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: (result, input) =>
      expect(asMessage(result)).toMatchObject({ kind: 'alarm', event: roundTrip(input) }),
    required: ['v', 'ts', 'seq', 'event'],
    numbers: { ts, seq },
    skewField: 'ts',
  },
  {
    name: 'device status',
    arb: fc.oneof(at(statusArb, topics.deviceStatus), at(statusArb, topics.gatewayStatus)),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: (result, input) =>
      expect(asMessage(result)).toMatchObject({ kind: 'status', status: roundTrip(input) }),
    required: ['v', 'ts', 'state'],
    numbers: { ts, battery: percent },
  },
  {
    name: 'nap session',
    arb: at(napSessionArb, topics.nap),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: (result, input) =>
      expect(asMessage(result)).toMatchObject({ kind: 'nap', nap: roundTrip(input) }),
    required: ['v', 'ts', 'state', 'by'],
    numbers: { ts },
  },
  {
    name: 'alert acknowledgement',
    arb: at(ackArb, topics.alertAck),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: (result, input) =>
      expect(asMessage(result)).toMatchObject({ kind: 'alert-ack', ack: roundTrip(input) }),
    required: ['by', 'ts'],
    numbers: { ts },
  },
  {
    name: 'device batch',
    arb: fc.record({ center: centerIdArb, device: idArb }).chain(({ center, device }) =>
      deviceBatchArb(device).map((value) => ({
        topic: topics.deviceTelemetry(center, device),
        value: value as Obj,
      })),
    ),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: (result, input) => batchAccepted(result, input),
    required: ['v', 'batch'],
    numbers: {},
  },
  {
    name: 'gateway batch',
    arb: at(gatewayBatchArb, topics.gatewayTelemetry),
    parse: (topic, payload) => parseMessage(topic, payload, OPTIONS),
    expectValue: (result, input) => batchAccepted(result, input),
    required: ['v', 'batch'],
    numbers: {},
  },
  {
    name: 'alert',
    arb: alertArb.map((value) => ({ topic: topics.alert(value.center, value.id), value: value as Obj })),
    parse: (_topic, payload) => parsePayload(alertSchema, payload),
    expectValue: (result, input) => expect(result).toEqual(roundTrip(input)),
    required: [
      'v',
      'id',
      'center',
      'rule',
      'severity',
      'state',
      'subject',
      'raisedAt',
      'updatedAt',
      'escalated',
      'notifications',
      'message',
    ],
    numbers: { raisedAt: ts, updatedAt: ts, notifications: { min: 1, int: true } },
  },
  {
    name: 'dead-letter record',
    arb: deadLetterArb.map((value) => ({ topic: 'cw/v1/deadletter/x/y', value: value as Obj })),
    parse: (_topic, payload) => parsePayload(deadLetterSchema, payload),
    expectValue: (result, input) => expect(result).toEqual(roundTrip(input)),
    required: ['v', 'ts', 'topic', 'reason', 'detail', 'payload', 'encoding'],
    numbers: { ts },
  },
];

function batchAccepted(result: unknown, input: Obj): void {
  const message = asMessage(result);
  if (message.kind !== 'telemetry') throw new Error(`expected telemetry, got ${message.kind}`);
  const items = (roundTrip(input).batch as Obj[]).map(({ device: _d, ...reading }) => reading);
  expect(message.refused).toEqual([]);
  expect(message.readings.map((r) => r.reading)).toEqual(items);
  const named = (input.batch as Obj[]).map((item) => item.device ?? message.source.id);
  expect(message.readings.map((r) => r.device)).toEqual(named);
}

/** Runs the parser and insists it answers with a value or one of the contract's reasons, never a throw. */
function run(schema: SchemaCase, topic: string, payload: Uint8Array): ParseResult<unknown> {
  const result = schema.parse(topic, payload);
  if (!result.ok) {
    expect(REASONS).toContain(result.reason);
    expect(result.detail).toEqual(expect.any(String));
  }
  return result;
}

/**
 * Encodes a mutated message, skipping the case when the mutation itself pushed it past the size limit
 * (a batch near 16 KiB grows when a number becomes a string): that is the too-large property's business.
 */
function within(bytes: Uint8Array): Uint8Array {
  fc.pre(bytes.byteLength <= LIMITS.maxMessageBytes);
  return bytes;
}

function expectRefused(result: ParseResult<unknown>, reason: Reason): void {
  expect(result.ok ? 'accepted' : result.reason).toBe(reason);
}

/** Every field name any schema knows (plus the batch switch), so generated extras are truly unknown. */
const KNOWN_FIELDS = new Set([
  ...Object.keys(wearableMessageSchema.shape),
  ...Object.keys(roomMessageSchema.shape),
  ...Object.keys(statusSchema.shape),
  ...Object.keys(alarmEventSchema.shape),
  ...Object.keys(napSessionSchema.shape),
  ...Object.keys(ackSchema.shape),
  ...Object.keys(alertSchema.shape),
  ...Object.keys(deadLetterSchema.shape),
  'batch',
  'device',
  '__proto__',
]);

const typeOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
const JSON_SAMPLES: unknown[] = ['x', '', 0, 1, -1.5, true, false, null, [], [1], {}, { v: 1 }];

/** Byte sequences no strict UTF-8 decoder accepts: stray continuation, overlong, surrogate, truncated, > U+10FFFF. */
const BAD_UTF8 = [
  [0x80],
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f],
];

/** A field set to a number outside its range (or a fraction where an integer is due). */
function outOfRange(range: Range): fc.Arbitrary<number> {
  const options: fc.Arbitrary<number>[] = [];
  const finite = { noNaN: true, noDefaultInfinity: true } as const;
  // fast-check orders -0 below 0, but JSON writes it as 0: compare numerically, not by fast-check's order.
  const { min, max } = range;
  if (max !== undefined)
    options.push(fc.double({ ...finite, min: max, minExcluded: true }).filter((n) => n > max));
  if (min !== undefined)
    options.push(fc.double({ ...finite, max: min, maxExcluded: true }).filter((n) => n < min));
  if (range.int) {
    options.push(
      fc
        .double({ ...finite, min: range.min ?? -1e9, max: range.max ?? 1e9 })
        .filter((n) => !Number.isInteger(n)),
    );
  }
  return fc.oneof(...options);
}

for (const schema of SCHEMAS) {
  describe(`${schema.name}: property`, () => {
    const numberFields = Object.keys(schema.numbers);

    it('every generated valid message parses to the same value', () => {
      fc.assert(
        fc.property(schema.arb, ({ topic, value }) => {
          const result = run(schema, topic, encodeJson(value));
          if (!result.ok) throw new Error(`refused ${result.reason}: ${result.detail}`);
          schema.expectValue(result.value, value);
        }),
        RUNS,
      );
    });

    it('unknown fields are stripped, not fatal', () => {
      const extras = fc.dictionary(
        fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !KNOWN_FIELDS.has(k)),
        fc.jsonValue({ maxDepth: 2 }),
        { minKeys: 1, maxKeys: 4 },
      );
      fc.assert(
        fc.property(schema.arb, extras, ({ topic, value }, extra) => {
          const payload = encodeJson({ ...extra, ...value });
          fc.pre(payload.byteLength <= LIMITS.maxMessageBytes);
          const result = run(schema, topic, payload);
          if (!result.ok) throw new Error(`refused ${result.reason}: ${result.detail}`);
          schema.expectValue(result.value, value);
        }),
        RUNS,
      );
    });

    it('a field of the wrong type is refused as schema', () => {
      const mutation = fc.record({
        field: fc.constantFrom(...schema.required),
        replacement: fc.constantFrom(...JSON_SAMPLES),
      });
      fc.assert(
        fc.property(schema.arb, mutation, ({ topic, value }, { field, replacement }) => {
          fc.pre(typeOf(replacement) !== typeOf(value[field]) || (field === 'v' && replacement !== 1));
          expectRefused(run(schema, topic, within(encodeJson({ ...value, [field]: replacement }))), 'schema');
        }),
        RUNS,
      );
    });

    it('a missing required field is refused as schema', () => {
      fc.assert(
        fc.property(schema.arb, fc.constantFrom(...schema.required), ({ topic, value }, field) => {
          const { [field]: _gone, ...rest } = value;
          expectRefused(run(schema, topic, encodeJson(rest)), 'schema');
        }),
        RUNS,
      );
    });

    if (numberFields.length > 0) {
      it('NaN and infinities are refused (not-json as bare tokens, schema as null or 1e999)', () => {
        const mutation = fc.record({
          field: fc.constantFrom(...numberFields),
          token: fc.constantFrom('NaN', 'Infinity', '-Infinity', 'null', '1e999', '-1e999'),
        });
        fc.assert(
          fc.property(schema.arb, mutation, ({ topic, value }, { field, token }) => {
            const text = JSON.stringify({ ...value, [field]: '\u0000mark' }).replace('"\\u0000mark"', token);
            const expected = /^-?(NaN|Infinity)$/.test(token) ? 'not-json' : 'schema';
            expectRefused(run(schema, topic, within(new TextEncoder().encode(text))), expected);
          }),
          RUNS,
        );
      });
    }

    if (numberFields.length > 0) {
      it('a number out of its range is refused as schema', () => {
        const mutation = fc
          .constantFrom(...numberFields)
          .chain((field) => outOfRange(schema.numbers[field]!).map((bad) => ({ field, bad })));
        fc.assert(
          fc.property(schema.arb, mutation, ({ topic, value }, { field, bad }) => {
            expectRefused(run(schema, topic, within(encodeJson({ ...value, [field]: bad }))), 'schema');
          }),
          RUNS,
        );
      });
    }

    if (schema.skewField) {
      it('a timestamp beyond the skew window is refused as clock-skew', () => {
        const skew = LIMITS.defaultMaxClockSkewMs;
        const offset = fc.oneof(
          fc.integer({ min: ARB_NOW + skew + 1, max: TS_MAX }),
          fc.integer({ min: TS_MIN, max: ARB_NOW - skew - 1 }),
        );
        fc.assert(
          fc.property(schema.arb, offset, ({ topic, value }, badTs) => {
            expectRefused(
              run(schema, topic, within(encodeJson({ ...value, [schema.skewField!]: badTs }))),
              'clock-skew',
            );
          }),
          RUNS,
        );
      });
    }

    it('a message over 16 KiB is refused as too-large', () => {
      fc.assert(
        fc.property(schema.arb, fc.integer({ min: 1, max: 50_000 }), ({ topic, value }, extra) => {
          const size = encodeJson(value).byteLength;
          const padded = { ...value, pad: 'x'.repeat(Math.max(0, LIMITS.maxMessageBytes - size) + extra) };
          expectRefused(run(schema, topic, encodeJson(padded)), 'too-large');
        }),
        RUNS,
      );
    });

    it('invalid UTF-8 anywhere in the payload is refused as bad-utf8', () => {
      fc.assert(
        fc.property(schema.arb, fc.constantFrom(...BAD_UTF8), fc.nat(), ({ topic, value }, bad, where) => {
          const bytes = encodeJson(value);
          fc.pre(bytes.byteLength + bad.length <= LIMITS.maxMessageBytes);
          const cut = where % (bytes.byteLength + 1);
          const corrupted = new Uint8Array([...bytes.subarray(0, cut), ...bad, ...bytes.subarray(cut)]);
          expectRefused(run(schema, topic, corrupted), 'bad-utf8');
        }),
        RUNS,
      );
    });

    it('truncated JSON is refused as not-json', () => {
      fc.assert(
        fc.property(schema.arb, fc.nat(), ({ topic, value }, where) => {
          const text = JSON.stringify(value);
          expectRefused(
            run(schema, topic, new TextEncoder().encode(text.slice(0, where % text.length))),
            'not-json',
          );
        }),
        RUNS,
      );
    });

    it('never throws on arbitrary bytes or arbitrary JSON', () => {
      const payload = fc.oneof(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.jsonValue({ maxDepth: 4 }).map(encodeJson),
        fc
          .integer({ min: 1, max: 20_000 })
          .map((depth) => new TextEncoder().encode('['.repeat(depth) + ']'.repeat(depth))),
      );
      fc.assert(
        fc.property(schema.arb, payload, ({ topic }, bytes) => {
          run(schema, topic, bytes);
        }),
        RUNS,
      );
    });
  });
}

describe('batch items: property', () => {
  const batchCase = fc
    .record({ center: centerIdArb, device: idArb })
    .chain(({ center, device }) =>
      deviceBatchArb(device).chain((message) =>
        fc
          .nat({ max: message.batch.length - 1 })
          .map((index) => ({ topic: topics.deviceTelemetry(center, device), device, message, index })),
      ),
    );

  const refusedAt = (result: ParseResult<Message>, index: number, total: number) => {
    if (!result.ok) throw new Error(`whole batch refused: ${result.reason}`);
    const message = result.value;
    if (message.kind !== 'telemetry') throw new Error(`expected telemetry, got ${message.kind}`);
    expect(message.readings).toHaveLength(total - 1);
    expect(message.refused.map((r) => r.index)).toEqual([index]);
    return message.refused[0]!;
  };

  it('one bad item is refused on its own with its reason; the rest of the batch is kept', () => {
    const mutation = fc.constantFrom(
      'wrong-type',
      'missing',
      'out-of-range',
      'clock-skew',
      'other-device',
      'not-object',
    );
    fc.assert(
      fc.property(batchCase, mutation, idArb, ({ topic, device, message, index }, kind, other) => {
        const item = { ...message.batch[index]! } as Obj;
        const field = 'posture' in item ? 'skinTempC' : 'humidity';
        let bad: unknown = item;
        let reason: Reason = 'schema';
        if (kind === 'wrong-type') item.seq = 'seven';
        if (kind === 'missing') delete item.ts;
        if (kind === 'out-of-range') item[field] = 1e6;
        if (kind === 'clock-skew') {
          item.ts = ARB_NOW + LIMITS.defaultMaxClockSkewMs + 1;
          reason = 'clock-skew';
        }
        if (kind === 'other-device') {
          fc.pre(other !== device);
          item.device = other;
          reason = 'topic-mismatch';
        }
        if (kind === 'not-object') bad = [item];
        const batch = message.batch.map((b, i) => (i === index ? bad : b));
        const refused = refusedAt(
          parseMessage(topic, within(encodeJson({ v: 1, batch })), OPTIONS),
          index,
          batch.length,
        );
        expect(refused.reason).toBe(reason);
        expect(refused.detail).toMatch(new RegExp(`^batch\\.${index}: `));
      }),
      RUNS,
    );
  });

  it('a gateway batch item that names no device is refused as schema', () => {
    fc.assert(
      fc.property(
        centerIdArb,
        idArb,
        gatewayBatchArb.chain((m) => fc.nat({ max: m.batch.length - 1 }).map((index) => ({ m, index }))),
        (center, gateway, { m, index }) => {
          const batch = m.batch.map((item, i) => (i === index ? { ...item, device: undefined } : item));
          const topic = topics.gatewayTelemetry(center, gateway);
          const refused = refusedAt(
            parseMessage(topic, within(encodeJson({ v: 1, batch })), OPTIONS),
            index,
            batch.length,
          );
          expect(refused.reason).toBe('schema');
        },
      ),
      RUNS,
    );
  });

  it('an empty batch, a batch of more than 100 and a gateway single reading are refused whole', () => {
    const room = { ts: ARB_NOW, seq: 1, tempC: 21, humidity: 40 };
    const topic = topics.deviceTelemetry('c1', 'd1');
    expectRefused(parseMessage(topic, encodeJson({ v: 1, batch: [] }), OPTIONS), 'empty-batch');
    const full = Array.from({ length: LIMITS.maxBatchReadings }, (_, seq) => ({ ...room, seq }));
    expect(parseMessage(topic, encodeJson({ v: 1, batch: full }), OPTIONS).ok).toBe(true);
    expectRefused(
      parseMessage(topic, encodeJson({ v: 1, batch: [...full, room] }), OPTIONS),
      'batch-too-large',
    );
    expectRefused(
      parseMessage(topics.gatewayTelemetry('c1', 'g1'), encodeJson({ v: 1, ...room }), OPTIONS),
      'schema',
    );
  });
});

describe('skew window options', () => {
  const reading = { v: 1, ts: ARB_NOW - 3_600_000, seq: 1, tempC: 21, humidity: 40 };
  const topic = topics.deviceTelemetry('c1', 'd1');

  it('maxSkewMs null switches the check off for replays; a wider window accepts what the default refuses', () => {
    expectRefused(parseMessage(topic, encodeJson(reading), OPTIONS), 'clock-skew');
    expect(parseMessage(topic, encodeJson(reading), { now: ARB_NOW, maxSkewMs: null }).ok).toBe(true);
    expect(parseMessage(topic, encodeJson(reading), { now: ARB_NOW, maxSkewMs: 3_600_000 }).ok).toBe(true);
  });

  it('topics outside the input layout are refused as bad-topic', () => {
    const payload = encodeJson(reading);
    for (const bad of [
      'cw/v2/c1/devices/d1/telemetry',
      'cw/v1/C1/devices/d1/telemetry',
      topics.alert('c1', 'a1'),
      topics.deadletter('c1', 'd1'),
    ]) {
      expectRefused(parseMessage(bad, payload, OPTIONS), 'bad-topic');
    }
  });
});

describe('parsePayload', () => {
  const record = {
    v: 1,
    ts: ARB_NOW,
    topic: 't',
    reason: 'not-json',
    detail: 'd',
    payload: 'x',
    encoding: 'utf8',
  };

  it('holds a dead-letter reason to the contract list', () => {
    expect(parsePayload(deadLetterSchema, encodeJson(record)).ok).toBe(true);
    const refused = parsePayload(deadLetterSchema, encodeJson({ ...record, reason: 'not json' }));
    expect(refused).toMatchObject({
      ok: false,
      reason: 'schema',
      detail: expect.stringMatching(/^reason: /),
    });
  });

  it('needs an alert text in every locale', () => {
    const alert = fc.sample(alertArb, { numRuns: 1, seed: 7 })[0]!;
    const refused = parsePayload(alertSchema, encodeJson({ ...alert, message: { en: 'only English' } }));
    expect(refused).toMatchObject({
      ok: false,
      reason: 'schema',
      detail: expect.stringMatching(/^message\.zh-CN: /),
    });
  });
});

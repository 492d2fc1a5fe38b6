import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centerIdArb, idArb } from './arbitraries.ts';
import { type ParsedTopic, TOPIC_ROOT, filters, parseTopic, topics } from './topics.ts';

/** Each builder with the parsed shape its topic must come back as. */
const BUILDERS: [string, (a: string, b: string) => string, (a: string, b: string) => ParsedTopic][] = [
  [
    'deviceTelemetry',
    topics.deviceTelemetry,
    (center, device) => ({ kind: 'device', center, device, channel: 'telemetry' }),
  ],
  [
    'deviceAlarm',
    topics.deviceAlarm,
    (center, device) => ({ kind: 'device', center, device, channel: 'alarm' }),
  ],
  [
    'deviceStatus',
    topics.deviceStatus,
    (center, device) => ({ kind: 'device', center, device, channel: 'status' }),
  ],
  [
    'gatewayTelemetry',
    topics.gatewayTelemetry,
    (center, gateway) => ({ kind: 'gateway', center, gateway, channel: 'telemetry' }),
  ],
  [
    'gatewayStatus',
    topics.gatewayStatus,
    (center, gateway) => ({ kind: 'gateway', center, gateway, channel: 'status' }),
  ],
  ['nap', topics.nap, (center, room) => ({ kind: 'nap', center, room })],
  ['alert', topics.alert, (center, alertId) => ({ kind: 'alert', center, alertId })],
  ['alertAck', topics.alertAck, (center, alertId) => ({ kind: 'alert-ack', center, alertId })],
  ['alertResolve', topics.alertResolve, (center, alertId) => ({ kind: 'alert-resolve', center, alertId })],
  [
    'alertTransition',
    topics.alertTransition,
    (center, alertId) => ({ kind: 'alert-transition', center, alertId }),
  ],
  ['deadletter', topics.deadletter, (center, device) => ({ kind: 'deadletter', center, device })],
];

/** Strings that are not ids: empty, too long, upper case, MQTT separators and wildcards, spaces, non-ASCII. */
const badIdArb = fc.oneof(
  fc.constantFrom('', 'A', 'dev_1', 'a/b', '+', '#', 'a b', 'é', 'x'.repeat(65), 'a\u0000', '\u5ba4'),
  fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !/^[a-z0-9-]{1,64}$/.test(s)),
);

describe('topics', () => {
  it.each(BUILDERS)('%s builds a topic that parses back to its ids', (_name, build, expected) => {
    fc.assert(
      fc.property(centerIdArb, idArb, (a, b) => {
        const topic = build(a, b);
        expect(topic.startsWith(`${TOPIC_ROOT}/`)).toBe(true);
        expect(parseTopic(topic)).toEqual(expected(a, b));
      }),
      { numRuns: 1_000 },
    );
  });

  it.each(BUILDERS)('%s refuses an id outside [a-z0-9-]{1,64} in either position', (_name, build) => {
    fc.assert(
      fc.property(badIdArb, idArb, fc.boolean(), (bad, good, first) => {
        expect(() => (first ? build(bad, good) : build(good, bad))).toThrow(RangeError);
      }),
      { numRuns: 300 },
    );
  });

  it('ids of exactly 64 characters are fine, 65 are not', () => {
    expect(parseTopic(topics.deviceTelemetry('c'.repeat(64), 'd'))).not.toBeNull();
    expect(parseTopic(`cw/v1/${'c'.repeat(65)}/devices/d/telemetry`)).toBeNull();
  });

  it('a centre may not be called deadletter: its topics would collide with dead-letter topics', () => {
    expect(() => topics.alert('deadletter', 'alerts')).toThrow(/reserved/);
    expect(() => topics.deadletter('deadletter', 'd1')).toThrow(/reserved/);
    // The collision the reservation prevents: this is the dead-letter topic of centre `alerts`.
    expect(parseTopic('cw/v1/deadletter/alerts/x')).toEqual({
      kind: 'deadletter',
      center: 'alerts',
      device: 'x',
    });
    expect(parseTopic('cw/v1/deadletter/devices/d1/telemetry')).toBeNull();
  });

  it('parseTopic returns null for anything outside the layout', () => {
    for (const topic of [
      '',
      'cw',
      'cw/v1',
      'cw/v2/c1/devices/d1/telemetry',
      'xx/v1/c1/devices/d1/telemetry',
      '/cw/v1/c1/devices/d1/telemetry',
      'cw/v1/c1/devices/d1/telemetry/',
      'cw/v1/c1/devices/d1/telemetry/extra',
      'cw/v1/c1/devices/d1/other',
      'cw/v1/c1/devices/d1',
      'cw/v1/c1/devices//telemetry',
      'cw/v1/c1/gateways/g1/alarm',
      'cw/v1/c1/rooms/r1/other',
      'cw/v1/c1/alerts/a1/other',
      'cw/v1/c1/alerts/a1/ack/x',
      'cw/v1/c1/things/x/telemetry',
      'cw/v1/C1/devices/d1/telemetry',
      'cw/v1/c1/devices/+/telemetry',
      'cw/v1/deadletter/c1',
      'cw/v1/deadletter/c1/d1/x',
      'cw/v1/deadletter/c_1/d1',
    ]) {
      expect(parseTopic(topic), topic).toBeNull();
    }
  });

  it('parseTopic never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.array(fc.string(), { maxLength: 8 }).map((p) => p.join('/')),
        ),
        (topic) => {
          const parsed = parseTopic(topic);
          expect(parsed === null || typeof parsed.kind === 'string').toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('filters cover exactly the topics the builders make', () => {
    const matches = (filter: string, topic: string) => {
      const f = filter.split('/');
      const t = topic.split('/');
      return f.length === t.length && f.every((part, i) => part === '+' || part === t[i]);
    };
    expect(filters.telemetry().some((f) => matches(f, topics.deviceTelemetry('c1', 'd1')))).toBe(true);
    expect(filters.telemetry().some((f) => matches(f, topics.gatewayTelemetry('c1', 'g1')))).toBe(true);
    expect(filters.telemetry('c2').some((f) => matches(f, topics.deviceTelemetry('c1', 'd1')))).toBe(false);
    expect(filters.deviceEvents().some((f) => matches(f, topics.deviceAlarm('c1', 'd1')))).toBe(true);
    expect(filters.deviceEvents().some((f) => matches(f, topics.deviceStatus('c1', 'd1')))).toBe(true);
    expect(matches(filters.nap(), topics.nap('c1', 'r1'))).toBe(true);
    expect(matches(filters.alerts('c1'), topics.alert('c1', 'a1'))).toBe(true);
    expect(matches(filters.alerts(), topics.alertAck('c1', 'a1'))).toBe(false);
    expect(matches(filters.alertAcks(), topics.alertAck('c1', 'a1'))).toBe(true);
    expect(matches(filters.brokerHolds, topics.brokerHold('b-1'))).toBe(true);
    expect(filters.telemetry().some((f) => matches(f, topics.brokerHold('b-1')))).toBe(false);
  });

  it("a broker's hold parses as the broker's, never as a centre's topic", () => {
    expect(parseTopic(topics.brokerHold('b-1'))).toEqual({ kind: 'broker-hold', broker: 'b-1' });
    expect(parseTopic('cw/v1/$broker/b-1/hold/x')).toBeNull();
    expect(parseTopic('cw/v1/$broker/B 1/hold')).toBeNull();
    expect(() => topics.brokerHold('$x')).toThrow(RangeError);
  });
});

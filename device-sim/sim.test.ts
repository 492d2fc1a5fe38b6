import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetSchema } from '../protocol/fleet.ts';
import { parseMessage } from '../protocol/parse.ts';
import { verifyPassword } from '../lib/credentials.ts';
import {
  FAULT_KINDS,
  generateFleet,
  listScenarios,
  loadScenario,
  runSimulation,
  type SimRecord,
} from './index.ts';
import { parseScenario } from './scenario.ts';
import { testTempDir } from '../test/support/temp.ts';
import { scenarioFleet } from '../test/support/fleets.ts';

const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const dir = testTempDir('cw-sim-');

async function record(name: string, seed?: number, file = join(dir, `${name}-${seed ?? 'default'}.jsonl`)) {
  const scenario = loadScenario(name);
  const { fleet } = scenarioFleet(scenario, '2026-01');
  const summary = await runSimulation({
    fleet,
    scenario,
    startTime: START,
    record: file,
    ...(seed ? { seed } : {}),
  }).done;
  const text = readFileSync(file, 'utf8');
  const records = text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SimRecord);
  return { text, records, summary };
}

/** Every reading a recording carries, whether sent alone or in a gateway batch. */
function readings(records: SimRecord[]) {
  const out: { device: string; reading: Record<string, unknown> }[] = [];
  for (const r of records) {
    if (r.op !== 'publish' || !r.readings || r.fault) continue;
    const parsed = parseMessage(r.topic!, Buffer.from(r.payload!), { maxSkewMs: null });
    if (!parsed.ok || parsed.value.kind !== 'telemetry') throw new Error(`bad telemetry ${r.payload}`);
    for (const reading of parsed.value.readings)
      out.push({ device: reading.device, reading: reading.reading });
  }
  return out;
}

describe('determinism', () => {
  it('gives byte-identical recordings for one seed and a different one for another', async () => {
    const a = await record('chaos', 11, join(dir, 'a.jsonl'));
    const b = await record('chaos', 11, join(dir, 'b.jsonl'));
    const c = await record('chaos', 12, join(dir, 'c.jsonl'));
    expect(a.records.length).toBeGreaterThan(5000);
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
  });
});

describe('fleet generation', () => {
  it('builds a valid registry with hashes only for devices that log in', async () => {
    const { fleet, credentials } = generateFleet({
      centers: 2,
      roomsPerCenter: 2,
      infantsPerRoom: 3,
      gateways: true,
      seed: 1,
      hashCost: 1024,
      referenceMonth: '2026-01',
    });
    expect(fleetSchema.safeParse(fleet).success).toBe(true);
    const ids = fleet.devices.map((d) => d.id);
    expect(ids).toContain('w-c2-r2-i3');
    expect(ids).toContain('rs-c1-r2');
    expect(ids).toContain('ab-c1-r2');
    expect(ids).toContain('gw-c1-r2');
    expect(fleet.infants.find((i) => i.id === 'c1-r2-i3')?.displayName).toBe('B-03');
    const wearable = fleet.devices.find((d) => d.id === 'w-c1-r1-i1')!;
    expect(wearable.passwordHash).toBeUndefined();
    expect(credentials['w-c1-r1-i1']).toBeUndefined();
    const gateway = fleet.devices.find((d) => d.id === 'gw-c1-r1')!;
    expect(gateway.passwordHash).toMatch(/^scrypt\$1024\$/);
    expect(await verifyPassword(credentials['gw-c1-r1']!, gateway.passwordHash!)).toBe(true);
  });

  it('refuses a bad shape', () => {
    expect(() =>
      generateFleet({
        centers: 0,
        roomsPerCenter: 1,
        infantsPerRoom: 1,
        gateways: false,
        seed: 1,
        referenceMonth: '2026-01',
      }),
    ).toThrow(/centers must be a whole number/);
    expect(() =>
      generateFleet({
        centers: 1,
        roomsPerCenter: 1,
        infantsPerRoom: 1,
        gateways: false,
        seed: 1,
        hashCost: 1000,
        referenceMonth: '2026-01',
      }),
    ).toThrow(/power of two/);
  });
});

describe('scenarios', () => {
  it('ships the promised scenarios, each with a fleet shape and duration', () => {
    expect(listScenarios()).toEqual(
      expect.arrayContaining([
        'nap-time',
        'prone-rollover',
        'overheating-room',
        'fever-rise',
        'alarm-press',
        'wearable-drops-off',
        'chaos',
      ]),
    );
    for (const name of listScenarios()) {
      const scenario = loadScenario(name);
      expect(scenario.duration).toBeGreaterThan(0);
      expect(scenario.fleet.centers).toBeGreaterThan(0);
    }
  });

  it('every fault-free publish of every scenario passes the protocol parser', async () => {
    for (const name of listScenarios().filter((n) => n !== 'chaos')) {
      const { records } = await record(name);
      for (const r of records.filter((x) => x.op === 'publish')) {
        const parsed = parseMessage(r.topic!, Buffer.from(r.payload!), { maxSkewMs: null });
        expect(parsed.ok, `${name}: ${r.topic} ${r.payload}`).toBe(true);
        expect(Buffer.byteLength(r.payload!)).toBeLessThanOrEqual(16 * 1024);
      }
    }
  });

  it('nap-time publishes retained nap messages and keeps every infant off their front', async () => {
    const { records } = await record('nap-time');
    const naps = records.filter((r) => r.topic?.endsWith('/nap'));
    expect(naps).toHaveLength(6);
    expect(naps.every((r) => r.retain && r.qos === 1 && r.client === '@nap')).toBe(true);
    const all = readings(records);
    const during = (ts: unknown) => (ts as number) >= naps[0]!.t && (ts as number) < naps[3]!.t;
    // Tummy time while awake is healthy; asleep nobody ends up on their front.
    expect(all.some(({ reading }) => reading.posture === 'prone' && during(reading.ts))).toBe(false);
    expect(all.some(({ reading }) => reading.posture === 'prone' && !during(reading.ts))).toBe(true);
    // While asleep, motion stays at breathing level, above the no-movement threshold.
    const asleep = all.filter(
      ({ reading }) =>
        (reading.ts as number) > START + 5 * 60_000 &&
        (reading.ts as number) < START + 37 * 60_000 &&
        reading.posture,
    );
    expect(
      Math.min(...asleep.filter((r) => r.device.startsWith('w-')).map((r) => r.reading.motion as number)),
    ).toBeGreaterThanOrEqual(0.02);
  });

  it('prone-rollover keeps c1-r1-i2 prone for at least 45 s of a nap', async () => {
    const { records } = await record('prone-rollover');
    const [start, end] = records.filter((r) => r.topic === 'cw/v1/c1/rooms/c1-r1/nap').map((r) => r.t) as [
      number,
      number,
    ];
    const prone = readings(records)
      .filter((r) => r.device === 'w-c1-r1-i2' && r.reading.posture === 'prone')
      .map((r) => r.reading.ts as number)
      .filter((ts) => ts > start && ts < end);
    expect(Math.max(...prone) - Math.min(...prone)).toBeGreaterThanOrEqual(45_000);
    expect(prone.length).toBeGreaterThanOrEqual(46);
  });

  it('overheating-room takes c1-r1 above 28 °C for over a minute', async () => {
    const { records } = await record('overheating-room');
    const hot = readings(records).filter((r) => r.device === 'rs-c1-r1' && (r.reading.tempC as number) > 28);
    expect(hot.length).toBeGreaterThanOrEqual(7);
    const other = readings(records).filter((r) => r.device === 'rs-c1-r2');
    expect(Math.max(...other.map((r) => r.reading.tempC as number))).toBeLessThan(23);
  });

  it('fever-rise lifts c1-r2-i1 a degree over its baseline, through a gateway', async () => {
    const { records } = await record('fever-rise');
    expect(records.some((r) => r.topic === 'cw/v1/c1/gateways/gw-c1-r2/telemetry')).toBe(true);
    const temps = readings(records).filter((r) => r.device === 'w-c1-r2-i1');
    const at = (minute: number) =>
      temps
        .filter((r) => Math.abs((r.reading.ts as number) - (START + minute * 60_000)) < 30_000)
        .map((r) => r.reading.skinTempC as number);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(at(30)) - mean(at(17))).toBeGreaterThan(1.2);
    // Warm-up: the first minute reads well under the settled value.
    expect(mean(at(0.5))).toBeLessThan(mean(at(17)) - 3);
  });

  it('alarm-press sends three QoS 1 presses', async () => {
    const { records } = await record('alarm-press');
    const presses = records.filter((r) => r.topic?.endsWith('/alarm'));
    expect(presses.map((r) => r.client)).toEqual(['ab-c1-r2', 'ab-c1-r1', 'ab-c1-r1']);
    expect(presses.every((r) => r.qos === 1)).toBe(true);
  });

  it('wearable-drops-off shows not-worn readings, a dropped connection and a silence', async () => {
    const { records } = await record('wearable-drops-off');
    const all = readings(records);
    const off = all.filter((r) => r.device === 'w-c1-r1-i3' && r.reading.worn === false);
    expect(off.length).toBeGreaterThanOrEqual(110);
    expect(off.every((r) => r.reading.posture === 'unknown')).toBe(true);
    const drop = records.find((r) => r.op === 'drop' && r.client === 'w-c1-r1-i4')!;
    expect(drop.t).toBe(START + 4 * 60_000);
    const reconnect = records.find((r) => r.op === 'connect' && r.client === 'w-c1-r1-i4' && r.t > drop.t)!;
    expect(reconnect.t - drop.t).toBeGreaterThanOrEqual(60_000);
    const silent = all.filter((r) => r.device === 'w-c1-r1-i5').map((r) => r.reading.ts as number);
    const gap = silent.find((ts, i) => i > 0 && ts - silent[i - 1]! > 40_000);
    expect(gap).toBeDefined();
  });

  it('chaos tags every fault kind with what the pipeline should do', async () => {
    const { records } = await record('chaos');
    for (const kind of FAULT_KINDS)
      expect(
        records.some((r) => r.fault === kind),
        kind,
      ).toBe(true);
    const expected: Record<string, string> = {
      'malformed-json': 'not-json',
      'schema-violation': 'schema',
      'clock-skew': 'clock-skew',
      oversized: 'too-large',
      'spoofed-topic': 'unknown-device',
      duplicate: 'duplicate',
      'wrong-password': 'refused',
    };
    for (const r of records.filter((x) => x.fault && expected[x.fault])) {
      expect(r.expect).toBe(expected[r.fault!]);
      if (r.op !== 'publish' || r.fault === 'duplicate' || r.fault === 'spoofed-topic') continue;
      const parsed = parseMessage(r.topic!, Buffer.from(r.payload!), { now: r.t });
      const refusals =
        parsed.ok && parsed.value.kind === 'telemetry' ? parsed.value.refused.map((x) => x.reason) : [];
      expect(parsed.ok ? refusals[0] : parsed.reason).toBe(r.expect);
    }
    expect(records.filter((r) => r.t < records[0]!.t).length).toBe(0);
    expect(records.every((r, i) => i === 0 || r.t >= records[i - 1]!.t)).toBe(true);
  });

  it('refuses a bad scenario naming the field', () => {
    expect(() =>
      parseScenario({
        name: 'x',
        description: 'd',
        duration: '10m',
        events: [{ at: '1m', infant: 'c1-r1-i1', posture: 'belly' }],
      }),
    ).toThrow(/events\.0\.posture/);
    expect(() => parseScenario({ name: 'x', description: 'd', duration: '10q' })).toThrow(
      /duration: bad duration "10q"/,
    );
    expect(() =>
      parseScenario({ name: 'x', description: 'd', duration: '1m', events: [{ at: '2m', alarm: 'c1-r1' }] }),
    ).toThrow(/events\.0\.at: .* after the duration/);
    expect(() =>
      parseScenario({
        name: 'x',
        description: 'd',
        duration: '1m',
        events: [{ at: '2s', room: 'c1-r1', tempC: 'hot' }],
      }),
    ).toThrow(/events\.0\.tempC: expected a number, "ramp to X over D"/);
    expect(() =>
      parseScenario({
        name: 'x',
        description: 'd',
        duration: '1m',
        events: [{ at: '2s', room: 'c1-r1', alarm: 'c1-r1' }],
      }),
    ).toThrow(/exactly one subject .* room, alarm/);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: [unclosed');
    expect(() => loadScenario(file)).toThrow(/not valid YAML/);
    expect(() => loadScenario('no-such-scenario')).toThrow(/no scenario "no-such-scenario"/);
  });

  it('refuses a scenario whose subjects are not in the fleet', () => {
    const scenario = parseScenario({
      name: 'x',
      description: 'd',
      duration: '1m',
      events: [{ at: '2s', infant: 'c9-r1-i1', posture: 'prone' }],
    });
    const { fleet } = scenarioFleet(scenario, '2026-01', 1);
    expect(() => runSimulation({ fleet, scenario, startTime: START })).toThrow(
      /no infant with a wearable c9-r1-i1/,
    );
  });
});

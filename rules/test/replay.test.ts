import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { topics } from '../../protocol/topics.ts';
import { silentLogger } from '../../lib/logger.ts';
import { alertId } from '../engine/engine.ts';
import { rulesServiceConfigSchema } from '../config.ts';
import { startRules } from '../service.ts';
import { calm } from '../../test/support/rules/engine.ts';
import { startMosquitto } from '../../test/support/mosquitto.ts';
import { workDir } from '../../test/support/rules/service.ts';

/** A recorded input: device-time offset, topic, payload. Device timestamps are the recording's own. */
type Recorded = { offset: number; topic: string; body: unknown };

const BASE = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const END = 8_000;

function recording(): Recorded[] {
  const out: Recorded[] = [];
  out.push({
    offset: 0,
    topic: topics.nap('ca', 'r2'),
    body: { v: 1, ts: BASE, state: 'started', by: 'teacher-li' },
  });
  let seq = 0;
  for (let offset = 100; offset <= END; offset += 200) {
    const posture = offset < 5_000 ? 'prone' : 'supine';
    for (const device of ['w-07', 'w-08', 'w-09']) {
      out.push({
        offset,
        topic: topics.deviceTelemetry('ca', device),
        body: {
          v: 1,
          ...calm,
          posture: device === 'w-07' ? posture : 'supine',
          ts: BASE + offset,
          seq: seq++,
        },
      });
    }
  }
  for (const offset of [1_150, 3_350]) {
    out.push({
      offset,
      topic: topics.deviceAlarm('ca', 'btn-2'),
      body: { v: 1, ts: BASE + offset, seq: seq++, event: 'pressed' },
    });
  }
  const alarm = alertId('one-key-alarm', 'btn-2', BASE + 1_150);
  out.push({
    offset: 6_550,
    topic: topics.alertAck('ca', alarm),
    body: { by: 'teacher-li', ts: BASE + 6_550 },
  });
  return out.sort((a, b) => a.offset - b.offset);
}

/**
 * Faults: w-08 drops at 3 s (its last will, stamped with the wall clock as a broker does, at 3.1 s) and is
 * back at 7 s; at 5 s every device reconnects at once (online status, w-09 resending its last second of
 * readings); from 8 s nap room 2 goes silent (its three wearables) while w-b1 and the room sensor go on.
 */
function faults(): Recorded[] {
  const out: Recorded[] = [
    {
      offset: 0,
      topic: topics.nap('ca', 'r2'),
      body: { v: 1, ts: BASE, state: 'started', by: 'teacher-li' },
    },
  ];
  let seq = 0;
  const reading = (offset: number, device: string, fields: Record<string, unknown> = {}) =>
    out.push({
      offset,
      topic: topics.deviceTelemetry('ca', device),
      body: { v: 1, ...calm, ...fields, ts: BASE + offset, seq: seq++ },
    });
  for (let offset = 100; offset <= FAULTS_END; offset += 200) {
    for (const device of ['w-07', 'w-08', 'w-09', 'w-b1']) {
      if (device === 'w-08' && offset > 3_000 && offset < 7_000) continue;
      if (device !== 'w-b1' && offset > 8_000) continue;
      reading(
        offset,
        device,
        device === 'w-07' && offset >= 1_500 && offset < 4_500 ? { posture: 'prone' } : {},
      );
    }
    out.push({
      offset,
      topic: topics.deviceTelemetry('ca', 'env-2'),
      body: { v: 1, tempC: 21, humidity: 45, ts: BASE + offset, seq: seq++ },
    });
  }
  out.push({
    offset: 3_100,
    topic: topics.deviceStatus('ca', 'w-08'),
    body: { v: 1, ts: Date.now(), state: 'offline' },
  });
  for (const device of ['w-07', 'w-09', 'w-b1']) {
    out.push({
      offset: 5_000,
      topic: topics.deviceStatus('ca', device),
      body: { v: 1, ts: BASE + 5_000, state: 'online' },
    });
  }
  for (let offset = 4_100; offset <= 4_900; offset += 200) reading(5_000, 'w-09');
  return out.sort((a, b) => a.offset - b.offset);
}
const FAULTS_END = 12_000;

describe('replays at any speed give the same alert transitions (device-time clock)', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  /** `max`: published as fast as the broker takes them, the rules' clock driven by the data alone. */
  async function replay(
    speed: number | 'max',
    inputs: Recorded[] = recording(),
    end = END,
  ): Promise<{ transitions: AlertTransition[] }> {
    const { dir, fleetFile } = workDir();
    const config = rulesServiceConfigSchema.parse({
      mqtt: { url: broker.url, clientId: `rules-replay-${speed}-${end}` },
      fleetFile,
      journalDir: join(dir, 'journal'),
      clock: { mode: 'device', speed: speed === 'max' ? 1 : speed },
      maxClockSkewMs: 'off',
      http: { port: 0 },
      channels: { history: { enabled: false } },
      rules: {
        defaults: {
          prone: { holdS: 2, clearS: 1 },
          monitoringLost: { silenceS: 3, groupGatherS: 0.5 },
          lifecycle: { reminderS: { critical: 1 }, escalateS: { critical: 2.5 } },
        },
      },
    });
    const rules = await startRules(config, silentLogger);
    const transitions: AlertTransition[] = [];
    const started = performance.now();
    rules.alerts.subscribe((t) => transitions.push(t));
    const publisher = await mqtt.connectAsync(broker.url);
    for (const [i, input] of inputs.entries()) {
      const wait = speed === 'max' ? 0 : started + input.offset / speed - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // The nap goes in on the rules' priority session: as fast as possible, it must still come first.
      if (i === 0 && speed === 'max')
        await publisher.publishAsync(input.topic, JSON.stringify(input.body), { qos: 1 });
      else publisher.publish(input.topic, JSON.stringify(input.body), { qos: 1 });
      if (i === 0 && speed === 'max') await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 400));
    await publisher.endAsync();
    await rules.close();
    rmSync(dir, { recursive: true, force: true });
    // Compared up to the end of the recording: an open alert keeps reminding after it.
    return { transitions: transitions.filter((t) => t.at <= BASE + end) };
  }

  it("same ids, same device times, each alert's transitions in the same order", async () => {
    const slow = await replay(1);
    const fast = await replay(10);
    // In device-time order. `seq` is delivery order: between two subjects it follows which of two
    // independent events (a reminder timer, a reading 50 ms earlier) the speed-scaled run met first.
    const sig = (ts: AlertTransition[]) =>
      [...ts]
        .sort((a, b) => a.at - b.at || a.alert.id.localeCompare(b.alert.id))
        .map((t) => `${t.kind} ${t.alert.id} +${t.at - BASE} ${t.audience}`);
    expect(sig(fast.transitions)).toEqual(sig(slow.transitions));
    // Delivered in seq order. Not always 1, 2, 3…: a transition stamped after the recording's end can be
    // delivered between two kept ones on a loaded machine, and is left out of the comparison.
    for (const run of [slow, fast]) {
      const seqs = run.transitions.map((t) => t.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    const kinds = new Set(slow.transitions.map((t) => `${t.alert.rule}:${t.kind}`));
    for (const expected of [
      'prone-sleep:raised',
      'prone-sleep:renotified',
      'prone-sleep:escalated',
      'prone-sleep:resolved',
      'one-key-alarm:raised',
      'one-key-alarm:renotified',
      'one-key-alarm:acknowledged',
    ]) {
      expect(kinds).toContain(expected);
    }
    const proneRaised = (run: typeof slow) =>
      run.transitions.findIndex((t) => t.alert.rule === 'prone-sleep' && t.kind === 'raised');
    expect(slow.transitions[proneRaised(slow)]!.at - BASE).toBe(2_100);
    expect(fast.transitions[proneRaised(fast)]!.at - BASE).toBe(2_100);
  });

  it('1×, 10× and max agree through a device drop with its will, a reconnect storm and a room going silent', async () => {
    const runs = [];
    for (const speed of [1, 10, 'max'] as const) runs.push(await replay(speed, faults(), FAULTS_END));
    const sig = (ts: AlertTransition[]) =>
      [...ts]
        .sort((a, b) => a.at - b.at || a.alert.id.localeCompare(b.alert.id))
        .map((t) => `${t.kind} ${t.alert.rule} ${t.alert.severity} ${t.alert.subject.id} +${t.at - BASE}`);
    const [slow, ...others] = runs.map((r) => sig(r.transitions));
    for (const other of others) expect(other).toEqual(slow);
    expect(slow).toEqual(EXPECTED_FAULTS);
  });
});

/** What the faults recording must give, at recording times (`+ms` after its start). */
const EXPECTED_FAULTS: string[] = [
  // The will, placed where the centre's readings had got to (not at its wall-clock stamp); critical: r2 naps.
  'raised monitoring-lost critical a-08 +3100',
  // Prone from 1.5 s, 2 s hold; the reconnect storm (online statuses, resent readings) changes nothing.
  'raised prone-sleep critical a-07 +3500',
  'renotified monitoring-lost critical a-08 +4100',
  'renotified prone-sleep critical a-07 +4500',
  'renotified monitoring-lost critical a-08 +5100',
  'renotified prone-sleep critical a-07 +5500',
  'resolved prone-sleep critical a-07 +5500',
  'escalated monitoring-lost critical a-08 +5600',
  'renotified monitoring-lost critical a-08 +6100',
  'renotified monitoring-lost critical a-08 +7100',
  'renotified monitoring-lost critical a-08 +8100',
  'renotified monitoring-lost critical a-08 +9100',
  'renotified monitoring-lost critical a-08 +10100',
  'renotified monitoring-lost critical a-08 +11100',
  // Nap room 2 silent from 7.9 s: its three wearables are most of this small centre's four, so one
  // centre alert 3 s + 0.5 s later, and a-08's own alert closes into it.
  'raised center-silent critical ca +11400',
  'resolved monitoring-lost critical a-08 +11400',
];

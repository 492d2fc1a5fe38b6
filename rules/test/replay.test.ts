import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { topics } from '../../protocol/topics.ts';
import { silentLogger } from '../../lib/logger.ts';
import { alertId } from '../engine/engine.ts';
import { rulesServiceConfigSchema } from '../config.ts';
import { startRules } from '../service.ts';
import { calm } from './harness.ts';
import { startMosquitto, workDir } from './support.ts';

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

describe('replay at 10× gives the same alert transitions as at 1× (device-time clock)', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  async function replay(speed: number): Promise<{ transitions: AlertTransition[]; wallAt: number[] }> {
    const { dir, fleetFile } = workDir();
    const config = rulesServiceConfigSchema.parse({
      mqtt: { url: broker.url, clientId: `rules-replay-${speed}` },
      fleetFile,
      journalDir: join(dir, 'journal'),
      clock: { mode: 'device', speed },
      maxClockSkewMs: 'off',
      http: { port: 0 },
      channels: { history: { enabled: false } },
      rules: {
        defaults: {
          prone: { holdS: 2, clearS: 1 },
          monitoringLost: { silenceS: 3 },
          lifecycle: { reminderS: { critical: 1 }, escalateS: { critical: 2.5 } },
        },
      },
    });
    const rules = await startRules(config, silentLogger);
    const transitions: AlertTransition[] = [];
    const wallAt: number[] = [];
    const started = performance.now();
    rules.alerts.subscribe((t) => {
      transitions.push(t);
      wallAt.push(performance.now() - started);
    });
    const publisher = await mqtt.connectAsync(broker.url);
    for (const input of recording()) {
      const wait = started + input.offset / speed - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      publisher.publish(input.topic, JSON.stringify(input.body), { qos: 1 });
    }
    await new Promise((r) => setTimeout(r, 400));
    await publisher.endAsync();
    await rules.close();
    // Compared up to the end of the recording: an open alert keeps reminding after it.
    const kept = transitions.filter((t) => t.at <= BASE + END);
    return { transitions: kept, wallAt: wallAt.slice(0, kept.length) };
  }

  it("same ids, same device times, each alert's transitions in the same order; wall times scaled by the speed", async () => {
    const slow = await replay(1);
    const fast = await replay(10);
    // In device-time order. `seq` is delivery order: between two subjects it follows which of two
    // independent events (a reminder timer, a reading 50 ms earlier) the speed-scaled run met first.
    const sig = (ts: AlertTransition[]) =>
      [...ts]
        .sort((a, b) => a.at - b.at || a.alert.id.localeCompare(b.alert.id))
        .map((t) => `${t.kind} ${t.alert.id} +${t.at - BASE} ${t.audience}`);
    expect(sig(fast.transitions)).toEqual(sig(slow.transitions));
    for (const run of [slow, fast])
      expect(run.transitions.map((t) => t.seq)).toEqual(slow.transitions.map((_, i) => i + 1));
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
    // The 10× run delivered the prone alert about ten times sooner on the wall clock.
    expect(fast.wallAt[proneRaised(fast)]!).toBeLessThan(slow.wallAt[proneRaised(slow)]! / 5);
  });
});

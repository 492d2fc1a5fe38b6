import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { FleetIndex } from '../../protocol/fleet.ts';
import { type Message, parseMessage } from '../../protocol/parse.ts';
import { monthOf } from '../../device-sim/fleet-gen.ts';
import { loadScenario, planOf, simulate } from '../../device-sim/index.ts';
import { scenarioFleet } from '../../test/support/fleets.ts';
import { Engine, type EngineInput } from '../engine/engine.ts';
import { rulesConfigSchema } from '../engine/thresholds.ts';

const START = Date.UTC(2026, 10, 22, 4, 0, 0);

/**
 * A shipped scenario straight into the engine: every publish the simulator records, and each last will
 * where the simulator drops a connection. `trusted`: on the recording's own time, as a replay runs;
 * `measured`: live, each message arriving at its true time whatever its device's clock says.
 */
function run(name: string, deviceTime: 'trusted' | 'measured' = 'trusted'): AlertTransition[] {
  const scenario = loadScenario(name);
  const { fleet } = scenarioFleet(scenario, monthOf(START));
  let now = START;
  const engine = new Engine({
    fleet: new FleetIndex(fleet),
    rules: rulesConfigSchema.parse({}),
    clock: () => now,
    deviceTime,
  });
  const transitions: AlertTransition[] = [];
  const wills = new Map<string, { topic: string; payload: string }>();
  for (const record of simulate(planOf({ fleet, scenario, startTime: START }))) {
    // The service's timer: every deadline fires at its time, even when no input comes in between.
    for (let due = engine.nextDeadline(); due !== undefined && due < record.t; due = engine.nextDeadline()) {
      now = Math.max(now, due);
      transitions.push(...engine.tick().transitions);
    }
    now = Math.max(now, record.t);
    transitions.push(...engine.tick().transitions);
    if (record.op === 'connect' && record.will) wills.set(record.client, record.will);
    const message =
      record.op === 'publish' && record.topic && record.payload
        ? { topic: record.topic, payload: record.payload }
        : record.op === 'drop'
          ? wills.get(record.client)
          : undefined;
    if (!message || record.fault) continue;
    const parsed = parseMessage(message.topic, Buffer.from(message.payload), { maxSkewMs: null });
    if (!parsed.ok) continue;
    for (const input of inputsOf(parsed.value)) {
      transitions.push(...engine.handle({ ...input, arrivedAt: record.t }).transitions);
    }
  }
  return transitions;
}

function inputsOf(message: Message): EngineInput[] {
  switch (message.kind) {
    case 'telemetry':
      return message.readings.map((reading) => ({
        type: 'reading',
        center: message.center,
        reading,
        via: message.source.id,
      }));
    case 'status':
      return message.source.type === 'device'
        ? [{ type: 'status', center: message.center, device: message.source.id, status: message.status }]
        : [];
    case 'alarm':
      return [{ type: 'alarm', center: message.center, device: message.device, event: message.event }];
    case 'nap':
      return [{ type: 'nap', center: message.center, room: message.room, nap: message.nap }];
    case 'alert-ack':
    case 'alert-resolve':
    case 'broker-hold':
      return [];
  }
}

describe('shipped scenarios through the engine', () => {
  it('prone-rollover: the 5-month-old on their front for a minute raises one critical prone alert, 30 s in', () => {
    const transitions = run('prone-rollover');
    const prone = transitions.filter((t) => t.alert.rule === 'prone-sleep');
    expect(prone.map((t) => `${t.kind}:${t.alert.subject.id}:${t.alert.severity}`)).toEqual([
      'raised:c1-r1-i2:critical',
      'renotified:c1-r1-i2:critical',
      'resolved:c1-r1-i2:critical',
    ]);
    const raisedAfter = (prone[0]!.at - START) / 1000;
    expect(raisedAfter).toBeGreaterThanOrEqual(4 * 60 + 30);
    expect(raisedAfter).toBeLessThanOrEqual(4 * 60 + 32);
    expect(transitions.filter((t) => t.kind === 'raised' && t.alert.rule !== 'prone-sleep')).toEqual([]);
  });

  it('clock-offsets, live: the +60 s wearable raises its prone alert 30 s in, the −20 s one nothing for 28 s', () => {
    const transitions = run('clock-offsets', 'measured');
    // Side sleep is the infants' own (they are under 6 months); what a clock offset could break is below.
    const raised = transitions.filter(
      (t) => t.kind === 'raised' && ['prone-sleep', 'monitoring-lost', 'no-movement'].includes(t.alert.rule),
    );
    expect(raised.map((t) => `${t.alert.rule}:${t.alert.subject.id}:${t.alert.severity}`)).toEqual([
      'prone-sleep:c1-r1-i1:critical',
    ]);
    const after = (raised[0]!.at - START) / 1000;
    expect(after).toBeGreaterThanOrEqual(3 * 60 + 30);
    expect(after).toBeLessThanOrEqual(3 * 60 + 31);
  });

  it('gateway-silence: one room alert for the gateway, one centre alert for the uplink, both resolved', () => {
    const transitions = run('gateway-silence');
    const silent = transitions.filter(
      (t) => t.alert.rule.endsWith('-silent') || t.alert.rule === 'monitoring-lost',
    );
    const opened = silent.filter((t) => t.kind === 'raised');
    expect(
      opened.map(
        (t) => `${t.alert.rule}:${t.alert.subject.id}:${t.alert.severity}:${t.alert.devices?.length}`,
      ),
    ).toEqual(['room-silent:c1-r1:critical:4', 'center-silent:c1:critical:8']);
    const closed = new Set(silent.filter((t) => t.kind === 'resolved').map((t) => t.alert.id));
    for (const t of opened) expect(closed.has(t.alert.id)).toBe(true);
    expect(transitions.filter((t) => t.kind === 'raised' && !silent.includes(t))).toEqual([]);
  });
});

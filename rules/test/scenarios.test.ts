import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { FleetIndex } from '../../protocol/fleet.ts';
import { type Message, parseMessage } from '../../protocol/parse.ts';
import { monthOf } from '../../device-sim/fleet-gen.ts';
import { generateFleet, loadScenario, planOf, simulate } from '../../device-sim/index.ts';
import { Engine, type EngineInput } from '../engine/engine.ts';
import { rulesConfigSchema } from '../engine/thresholds.ts';

const START = Date.UTC(2026, 10, 22, 4, 0, 0);

/**
 * A shipped scenario straight into the engine, on the recording's own time (as a replay runs): every
 * publish the simulator records, and each last will where the simulator drops a connection.
 */
function run(name: string): AlertTransition[] {
  const scenario = loadScenario(name);
  const { fleet } = generateFleet({
    ...scenario.fleet,
    seed: scenario.seed,
    hashCost: null,
    referenceMonth: monthOf(START),
  });
  let now = START;
  const engine = new Engine({
    fleet: new FleetIndex(fleet),
    rules: rulesConfigSchema.parse({}),
    clock: () => now,
    deviceTime: 'trusted',
  });
  const transitions: AlertTransition[] = [];
  const wills = new Map<string, { topic: string; payload: string }>();
  for (const record of simulate(planOf({ fleet, scenario, startTime: START }))) {
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
    for (const input of inputsOf(parsed.value)) transitions.push(...engine.handle(input).transitions);
  }
  return transitions;
}

function inputsOf(message: Message): EngineInput[] {
  switch (message.kind) {
    case 'telemetry':
      return message.readings.map((reading) => ({ type: 'reading', center: message.center, reading }));
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
});

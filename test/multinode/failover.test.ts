import { join } from 'node:path';
import { EventSource } from 'eventsource';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecording, runSimulation } from '../../device-sim/index.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { influxRows } from '../../lib/influx/query.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import { type AlertTransition, alertTransitionSchema } from '../../protocol/alerts.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { filters } from '../../protocol/topics.ts';
import { rulesServiceConfigSchema } from '../../rules/config.ts';
import { type RunningRules, startRules } from '../../rules/service.ts';
import { countPoints, freshInflux } from '../support/influx.ts';
import { type Cluster, SCENARIO, SUPERVISOR, startCluster } from './cluster.ts';
import type { ServiceProcess } from './processes.ts';

/** Sim speed and the rules' device clock: the 10-minute chaos scenario in 30 s. */
const SPEED = 20;
const NO_FAULTS = {
  malformedJson: 0,
  schemaViolation: 0,
  duplicate: 0,
  outOfOrder: 0,
  clockSkew: 0,
  oversized: 0,
  spoofedTopic: 0,
  wrongPassword: 0,
  connectionStorm: 0,
};

const key = (t: AlertTransition) => `${t.alert.center}:${t.seq}:${t.kind}:${t.alert.id}`;
const what = (a: Alert) => `${a.rule}|${a.subject.kind}:${a.subject.id}|${a.severity}`;

/** Acknowledged readings (the recording: every publish was acknowledged) that InfluxDB does not hold. */
async function lostReadings(recording: string, influx: InfluxConnection, startTime: number) {
  const kept = new Set<string>();
  for (const measurement of ['wearable', 'room_env']) {
    for (const row of await influxRows(influx, `SELECT seq FROM ${measurement} GROUP BY device`))
      kept.add(`${row.device}:${row.seq}`);
  }
  const lost: { device: string; simSecond: number }[] = [];
  for await (const r of readRecording(recording)) {
    if (r.op !== 'publish' || !r.readings || !r.topic?.endsWith('/telemetry')) continue;
    const device = r.topic.split('/')[4]!;
    const { seq } = JSON.parse(r.payload!) as { seq: number };
    if (!kept.has(`${device}:${seq}`)) lost.push({ device, simSecond: Math.round((r.t - startTime) / 1000) });
  }
  return lost;
}

async function alertsOf(url: string): Promise<Alert[]> {
  const res = await fetch(`${url}/api/alerts?includeResolved=true`, {
    headers: { authorization: `Bearer ${SUPERVISOR}` },
  });
  return ((await res.json()) as { alerts: Alert[] }).alerts;
}

/**
 * A dozen processes on the shared 2-core machine; `npm run failover` runs this file alone, with the same
 * kill sequence.
 */
describe('a city across nodes (2 brokers on Redis, 2 ingest, 2 rules, 2 front ends)', () => {
  let cluster: Cluster | undefined;
  let reference: RunningRules | undefined;
  const closers: (() => unknown)[] = [];

  afterAll(async () => {
    for (const close of closers) await close();
    await reference?.close();
    await cluster?.stop();
  }, 60_000);

  it('loses no acknowledged reading and no alert while a broker, an ingest, a rules partition and a front end are killed in turn', async () => {
    const t0 = performance.now();
    const step = (what: string) =>
      console.error(`[multinode ${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}`);
    const influx = await freshInflux();
    const startTime = Date.now();
    cluster = await startCluster({ influx, speed: SPEED, startTime });
    const c = cluster;
    step('cluster up');

    // The single-process run, on the same bus and never killed: one unpartitioned rules service that
    // publishes nothing, so the partitions' alerts can be compared with it.
    reference = await startRules(
      rulesServiceConfigSchema.parse({
        mqtt: { url: c.brokerUrls[1], clientId: 'multinode-reference' },
        fleetFile: join(c.dir, 'fleet.yaml'),
        journalDir: join(c.dir, 'journal-reference'),
        clock: { mode: 'device', speed: SPEED },
        maxClockSkewMs: 'off',
        http: { port: 0 },
        channels: { mqtt: { enabled: false }, history: { enabled: false } },
      }),
      silentLogger,
    );

    step('reference up');
    // A supervisor's page on all centres, through the balancer: on front end 0 until it dies.
    const streamed: AlertTransition[] = [];
    let opens = 0;
    const source = new EventSource(`${c.pageUrl}/api/alerts/stream?token=${SUPERVISOR}`);
    closers.push(() => source.close());
    source.addEventListener('open', () => opens++);
    source.addEventListener('alert', (e) => streamed.push(JSON.parse(e.data) as AlertTransition));
    await waitFor(() => opens === 1, { what: 'SSE stream open' });

    // Every transition the partitions publish from the moment the page's stream is open (what it must get),
    // as read on the broker that is never killed.
    const published: AlertTransition[] = [];
    const watcher = await mqtt.connectAsync(c.brokerUrls[1]!, { clientId: 'multinode-watcher' });
    closers.push(() => watcher.endAsync());
    watcher.on('message', (_topic, payload) =>
      published.push(alertTransitionSchema.parse(JSON.parse(payload.toString()))),
    );
    await watcher.subscribeAsync(filters.alertTransitions(), { qos: 1 });

    step('watcher up');
    step('sim starting');
    const sim = runSimulation({
      fleet: c.fleet,
      scenario: SCENARIO,
      seed: SCENARIO.seed ?? 1,
      startTime,
      durationMs: SCENARIO.duration,
      faults: NO_FAULTS,
      url: c.deviceUrl,
      speed: SPEED,
      status: 'off',
      record: join(c.dir, 'sim.jsonl'),
    });
    /** Simulated second at which each kill happened, to place any lost reading. */
    const killedAt: Record<string, number> = {};
    const simSecond = () => Math.round(((sim.stats().simTime ?? startTime) - startTime) / 1000);

    const recovery: Record<string, number> = {};
    const restart = async (service: ServiceProcess) => {
      const killed = performance.now();
      killedAt[service.name] = simSecond();
      await service.kill();
      await service.start();
      recovery[service.name] = (performance.now() - killed) / 1000;
      step(`${service.name} back`);
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await pause(4_000);
    await restart(c.brokers[0]!);
    await pause(3_000);
    await restart(c.ingest[1]!);
    await pause(3_000);
    await restart(c.rules[1]!);
    await pause(3_000);
    const killed = performance.now();
    killedAt['frontend-0'] = simSecond();
    await c.frontends[0]!.kill();
    await waitFor(() => opens === 2, { what: 'SSE stream reopened on the other front end' });
    recovery['frontend-0'] = (performance.now() - killed) / 1000;

    step('front end 0 killed, stream resumed');
    const summary = await sim.done;
    step(`sim done: ${JSON.stringify(summary)}`);
    // Devices on the killed broker see their connection reset (counted as errors) and reconnect.
    const written = async () =>
      (await countPoints(influx, 'wearable', 'seq')) + (await countPoints(influx, 'room_env', 'temp'));
    // A restarted ingest first drains what its session queued meanwhile; on a loaded machine that takes a while.
    await waitFor(async () => (await written()) >= summary.readingsAcked, {
      what: 'every acknowledged reading in InfluxDB',
      timeoutMs: 60_000,
      intervalMs: 500,
    }).catch(() => undefined);
    step(`written ${await written()}`);
    const missing = () => {
      const got = new Set(streamed.map(key));
      return published.map(key).filter((k) => !got.has(k));
    };
    await waitFor(() => missing().length === 0, {
      what: 'every published transition on the resumed stream',
      timeoutMs: 20_000,
    }).catch(() => undefined);

    const dead = [...c.brokers, ...c.ingest, ...c.rules, ...c.frontends.slice(1)].filter(
      (p) => p.child?.exitCode !== null || p.child?.signalCode !== null,
    );
    for (const p of dead) console.error(`${p.name} died: ${p.output().slice(-3000)}`);
    expect(dead.map((p) => p.name)).toEqual([]);
    // The front end's open alerts are the partitions' own, once the bus has carried the last transitions.
    const openIds = (alerts: Alert[]) =>
      alerts
        .filter((a) => a.state !== 'resolved')
        .map((a) => a.id)
        .sort();
    const openOfPartitions = async () => openIds((await Promise.all(c.rulesUrls.map(alertsOf))).flat());
    await waitFor(async () => `${openIds(await alertsOf(c.pageUrl))}` === `${await openOfPartitions()}`, {
      what: 'the front end showing the partitions’ open alerts',
      timeoutMs: 20_000,
    }).catch(() => undefined);
    const partitions = await Promise.all(c.rulesUrls.map(alertsOf));
    const expected = reference.alerts.list({ includeResolved: true });
    const front = await alertsOf(c.pageUrl);
    const figures = {
      readingsAcked: summary.readingsAcked,
      deviceConnectionErrors: summary.errors,
      readingsWritten: await written(),
      referenceAlerts: expected.length,
      partitionAlerts: partitions.map((p) => p.length),
      published: published.length,
      streamed: streamed.length,
      recoverySeconds: recovery,
      killedAtSimSecond: killedAt,
      lost: await lostReadings(join(c.dir, 'sim.jsonl'), influx, startTime),
      restartsBeforeHealthy: Object.fromEntries(
        [...c.brokers, ...c.ingest, ...c.rules].map((s) => [s.name, s.restarts]),
      ),
    };
    console.log(`multinode failover: ${JSON.stringify(figures)}`);
    // A supervisor restart is a failed start: its log says why, for whoever reads the run.
    for (const p of [...c.brokers, ...c.ingest, ...c.rules].filter((s) => s.restarts > 0))
      console.error(`${p.name} needed ${p.restarts} restart(s): ${p.output().slice(-3000)}`);

    expect(figures.readingsWritten).toBe(summary.readingsAcked);
    // Partition 0 owns c2, partition 1 owns c1: each alert is raised by exactly one of them.
    expect(partitions[0]!.every((a) => a.center === 'c2')).toBe(true);
    expect(partitions[1]!.every((a) => a.center === 'c1')).toBe(true);
    const raised = new Set(partitions.flat().map(what));
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.map(what).filter((w) => !raised.has(w))).toEqual([]);
    expect(openIds(front)).toEqual(openIds(partitions.flat()));
    const open = front.filter((a) => a.state !== 'resolved').map((a) => `${a.rule}|${a.subject.id}`);
    expect(new Set(open).size).toBe(open.length);
    // Nothing twice on the stream across the front-end change, nothing missing.
    expect(missing()).toEqual([]);
    expect(new Set(streamed.map(key)).size).toBe(streamed.length);
    expect(published.length).toBeGreaterThan(0);
  }, 240_000);
});

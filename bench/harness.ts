import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generateFleet, runSimulation, writeFleetFiles } from '../device-sim/index.ts';
import { ensureDatabase } from '../lib/influx/query.ts';
import { type RunningInfluxd, startInfluxd } from '../lib/influx/server.ts';
import { measureCeilings } from './ceilings.ts';
import { alertTransitions, silenceRaisedSince, waitForWritten } from './influx-counts.ts';
import { onExit } from './on-exit.ts';
import { type BenchOptions, type ScenarioName, type ScenarioResult, topologyName } from './options.ts';
import { describeSplit, fleetShape } from './partitions.ts';
import { sampleProcesses } from './sampling.ts';
import { scenarios } from './scenarios/index.ts';
import type { ScenarioReport } from './scenarios/scenario.ts';
import { serviceCounters } from './service-metrics.ts';
import { type Services, startServices } from './services.ts';
import { renderTable } from './table.ts';

const root = join(import.meta.dirname, '..');

/** One run of the real pipeline: influxd, the services, the simulator, and what the scenario adds. */
export async function runScenario(name: ScenarioName, options: BenchOptions): Promise<ScenarioResult> {
  const scenario = scenarios[name];
  const say = (line: string) => options.progress(`[${name}] ${line}`);
  const dir = mkdtempSync(join(tmpdir(), 'cw-bench-'));
  const forgetDir = onExit(() => rmSync(dir, { recursive: true, force: true }));
  const influxd: RunningInfluxd = await startInfluxd({ dataDir: join(dir, 'influxdb') });
  // Restarted in the recovery scenario: whichever process it is at the end is the one to stop.
  const forgetInfluxd = onExit(() => influxd.process.kill('SIGKILL'));
  let services: Services | undefined;
  try {
    const ceilingConn = { api: 'v1' as const, url: influxd.url, database: 'ceiling' };
    await ensureDatabase(ceilingConn);
    say(`measuring the stock parts' ceilings (${options.ceilingS} s each)`);
    const ceilings = await measureCeilings(ceilingConn, options.ceilingS);
    say(
      `ceilings: InfluxDB ${ceilings.influxPointsPerS} points/s, bare Aedes ${ceilings.bareBrokerReadingsPerS} readings/s in batches of 100`,
    );

    const { wearables, infantsPerRoom, gateways } = scenario.fleet(options);
    const { centers, roomsPerCenter } = fleetShape(wearables, infantsPerRoom, options.partitions);
    say(
      `generating a fleet: ${centers} centres × ${roomsPerCenter} rooms × ${infantsPerRoom} infants${gateways ? ', room gateways' : ', one connection each'}`,
    );
    const generated = generateFleet({
      centers,
      roomsPerCenter,
      infantsPerRoom,
      gateways,
      seed: 42,
      hashCost: 1024,
      referenceMonth: '2026-01',
    });
    const fleetFile = join(dir, 'fleet.yaml');
    writeFleetFiles(generated, fleetFile, join(dir, 'credentials.yaml'));

    if (options.partitions > 1)
      say(`centres by partition: ${describeSplit(generated.fleet, options.partitions)}`);

    const conn = { api: 'v1' as const, url: influxd.url, database: 'bench' };
    await ensureDatabase(conn);
    say(`starting the services (${topologyName(options)})`);
    // A CPU profile per service process, written when it exits: where the time goes at a given load.
    // A heap limit per service: with 24 GiB here V8 lets garbage pile up to gigabytes before it collects.
    const nodeArgs = [
      ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
      ...(options.heapMb ? [`--max-old-space-size=${options.heapMb}`] : []),
    ];
    const started = await startServices(options, dir, fleetFile, conn, nodeArgs);
    services = started;
    if (started.layout) say(`brokers: ${started.layout}; the devices' connections go to them in turn`);
    const sample = sampleProcesses(() => ({
      ...started.pids(),
      'simulator + bench clients': process.pid,
      influxd: influxd.pid,
    }));
    // Connections open at the simulator's connect rate first: the steps up to the full rate.
    const connections = generated.fleet.devices.filter((d) => d.passwordHash).length;
    const connectS = Math.ceil(connections / 500);
    const durationMs = (options.durationS + connectS) * 1000;
    say(`running ${options.durationS} s at ${wearables} wearables (+${connectS} s of connection ramp)`);
    const reserved = new Set((scenario.reserved?.(generated.fleet, options) ?? []).map((d) => d.id));
    const sim = runSimulation({
      fleet: { ...generated.fleet, devices: generated.fleet.devices.filter((d) => !reserved.has(d.id)) },
      startTime: Date.now(),
      durationMs,
      url: started.mqttUrl,
      credentials: generated.credentials,
      speed: 1,
      // The simulator's warnings (its first errors, then every thousandth) go to the progress lines.
      logger: pino(
        { level: 'warn' },
        { write: (line: string) => say(`simulator: ${(JSON.parse(line) as { msg: string }).msg}`) },
      ),
      status: 'off',
      // Each real device waits for its own acknowledgement, not for a fleet-wide window.
      window: Math.max(1_000, connections),
      behaviour: { proneRollsPerHour: 0, wifiDropsPerHour: 0, connectRate: 500 },
    });
    // Until every device is connected, a wearable that has not reported is really unmonitored (its
    // gateway is still waiting to log in): silence raised before then is not counted as false.
    let allConnectedAt: number | undefined;
    // The devices a scenario drives itself (the latency scenario's buttons) are not the simulator's.
    const simulated = connections - reserved.size;
    const connectedWatch = setInterval(() => {
      if (allConnectedAt === undefined && sim.stats().connected >= simulated) allConnectedAt = Date.now();
    }, 250);
    const progress = setInterval(() => {
      const s = sim.stats();
      say(
        `connected ${s.connected}, readings acked ${s.readingsAcked}, in flight ${s.inflight}, errors ${s.errors}`,
      );
    }, 10_000);
    const report: Promise<ScenarioReport> =
      scenario.run?.({
        options,
        generated,
        services: started,
        influxd,
        rampMs: connectS * 1000,
        allConnected: () => allConnectedAt !== undefined,
        planEndsAt: Date.now() + durationMs,
        say,
      }) ?? Promise.resolve({});
    // Bounded: a rate the pipeline cannot take leaves a backlog in the simulator; it gets one more minute.
    const bound = setTimeout(() => {
      say('the pipeline fell behind the offered rate: stopping the simulator a minute after its plan ended');
      void sim.stop();
    }, durationMs + 60_000);
    const summary = await sim.done;
    clearTimeout(bound);
    const { latencyMs, drainS } = await report;
    clearInterval(progress);
    clearInterval(connectedWatch);
    say(`simulator done: ${summary.readingsAcked} readings acknowledged; waiting for InfluxDB to hold them`);
    const written = await waitForWritten(conn, summary.readingsAcked, started.ingestUrls, say);
    const processes = sample();
    const crashed = started.crashed();
    if (crashed.length > 0) throw new Error(`a service exited during the run:\n${crashed.join('\n')}`);
    const { overload, alarmPath } = await serviceCounters(started);
    if (alarmPath) {
      say(
        `presses at the rules: mean ${alarmPath.meanArrivalMs} ms after the press, ${alarmPath.arrivedAfter1s} of ${alarmPath.presses} after 1 s`,
      );
    }
    return {
      scenario: name,
      topology: options.topology,
      brokers: options.brokers,
      partitions: options.partitions,
      offeredPerS: wearables + Math.round((generated.fleet.rooms.length * 1000) / 10_000),
      connections,
      readingsSent: summary.readingsAcked,
      readingsWritten: written,
      lost: Math.max(0, summary.readingsAcked - written),
      achievedPerS: Math.round(summary.readingsAcked / (summary.wallMs / 1000)),
      ...(latencyMs ? { latencyMs } : {}),
      ...(drainS !== undefined ? { drainS } : {}),
      alertTransitions: await alertTransitions(conn),
      groundTruth: { devicesDropped: summary.devicesDropped, faults: summary.faults },
      silenceRaisedAfterConnect: await silenceRaisedSince(conn, allConnectedAt),
      overload,
      ...(alarmPath ? { alarmPath } : {}),
      processes,
      ceilings,
    };
  } finally {
    await services?.stop();
    await influxd.stop();
    forgetInfluxd();
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  }
}

export async function runBench(
  options: BenchOptions,
  resultsDir = join(root, 'bench', 'results'),
): Promise<{ results: ScenarioResult[]; table: string; jsonFile: string }> {
  const results: ScenarioResult[] = [];
  for (const name of options.scenarios) results.push(await runScenario(name, options));
  const table = renderTable(results);
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = join(resultsDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, JSON.stringify({ options: { ...options, progress: undefined }, results }, null, 2));
  return { results, table, jsonFile };
}

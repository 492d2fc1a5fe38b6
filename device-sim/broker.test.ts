import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../lib/net.ts';
import { loadScenario, replay, runSimulation, type SimRecord } from './index.ts';
import { testTempDir } from '../test/support/temp.ts';
import { scenarioFleet } from '../test/support/fleets.ts';

const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const dir = testTempDir('cw-sim-broker-');
const brokers: ChildProcess[] = [];
let url: string;

/** A private mosquitto on a free loopback port: anonymous, or with a password file. */
async function startMosquitto(
  name: string,
  passwords?: Record<string, string>,
  port?: number,
): Promise<string> {
  port ??= await freePort();
  const conf = join(dir, `${name}.conf`);
  // mosquitto drops QoS 1 messages past 1,000 queued for a subscriber by default; the count must be exact.
  let text = `listener ${port} 127.0.0.1\npersistence false\nmax_queued_messages 0\n`;
  if (passwords) {
    const file = join(dir, `${name}.passwd`);
    writeFileSync(
      file,
      Object.entries(passwords)
        .map(([user, password]) => `${user}:${password}\n`)
        .join(''),
    );
    execFileSync('mosquitto_passwd', ['-U', file]);
    // Started as root, mosquitto drops to its own user, which must still read the file.
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);
    text += `allow_anonymous false\npassword_file ${file}\n`;
  } else text += 'allow_anonymous true\n';
  writeFileSync(conf, text);
  brokers.push(spawn('mosquitto', ['-c', conf], { stdio: 'ignore' }));
  const at = `mqtt://127.0.0.1:${port}`;
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const probe = mqtt.connect(at, { reconnectPeriod: 0, connectTimeout: 500 });
        // A refused login still proves the broker is listening.
        probe.once('connect', () => probe.end(true, {}, () => resolve(true)));
        probe.once('error', (error) =>
          probe.end(true, {}, () => resolve(/Not authorized|Bad username/i.test(error.message))),
        );
      }),
    { what: 'mosquitto' },
  );
  return at;
}

beforeAll(async () => {
  url = await startMosquitto('anonymous');
});

afterAll(() => {
  for (const broker of brokers) broker.kill('SIGTERM');
});

async function subscriber(at = url, account: { username?: string; password?: string } = {}) {
  const seen: { topic: string; payload: string }[] = [];
  const client = mqtt.connect(at, { clientId: `sub-${Math.random().toString(36).slice(2)}`, ...account });
  client.on('message', (topic, payload, packet) => {
    // Retained messages from an earlier test are the broker's memory, not this run's traffic.
    if (!packet.retain) seen.push({ topic, payload: payload.toString() });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () =>
      client.subscribe('cw/v1/#', { qos: 1 }, (error) => (error ? reject(error) : resolve())),
    );
  });
  return { seen, close: () => client.endAsync() };
}

function recorded(file: string): SimRecord[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SimRecord);
}

describe('through a real broker', () => {
  it('delivers exactly the recorded publishes and last wills, and a replay sends them again', async () => {
    const scenario = loadScenario('wearable-drops-off');
    const { fleet } = scenarioFleet(scenario, '2026-01', 1);
    const file = join(dir, 'run.jsonl');
    const sub = await subscriber();
    const summary = await runSimulation({
      fleet,
      scenario,
      startTime: START,
      durationMs: 6 * 60_000,
      speed: 'max',
      url,
      record: file,
    }).done;
    const records = recorded(file);
    const publishes = records.filter((r) => r.op === 'publish');
    const drops = records.filter((r) => r.op === 'drop');
    expect(drops).toHaveLength(1);
    // Every publish, plus the will the broker sends for the dropped connection.
    await waitFor(() => sub.seen.length >= publishes.length + drops.length, { what: 'all messages' });
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.seen.length).toBe(publishes.length + drops.length);
    expect(summary.errors).toBe(0);
    expect(summary.acked).toBe(publishes.length);
    expect(summary.readingsAcked).toBe(publishes.reduce((n, r) => n + (r.readings ?? 0), 0));
    const will = sub.seen.find(
      (m) => m.topic === 'cw/v1/c1/devices/w-c1-r1-i4/status' && m.payload.includes('offline'),
    );
    expect(will).toBeDefined();
    await sub.close();

    const again = await subscriber();
    const replayed = await replay(file, { url, speed: 'max' }).done;
    await waitFor(() => again.seen.length >= publishes.length + drops.length, { what: 'replayed messages' });
    await new Promise((r) => setTimeout(r, 300));
    expect(again.seen.length).toBe(publishes.length + drops.length);
    expect(replayed.errors).toBe(0);
    // Order holds per connection, not across connections: compare as sets.
    const readingsOf = (seen: { payload: string }[]) =>
      seen
        .map((m) => m.payload)
        .filter((p) => p.includes('"seq"'))
        .sort();
    expect(readingsOf(again.seen)).toEqual(readingsOf(sub.seen));
    await again.close();
  });

  it('keeps to simulated time at a given speed', async () => {
    const scenario = loadScenario('alarm-press');
    const { fleet } = scenarioFleet(scenario, '2026-01', 1);
    const run = (speed: 10 | 'max') =>
      runSimulation({ fleet, scenario, startTime: START, durationMs: 20_000, speed, url }).done;
    const paced = await run(10);
    // 20 s of device time at 10× waits at least 2 s: a load-slowed machine takes longer, never less, so
    // only the floor is a property of the simulator (throughput is measured in bench/).
    expect(paced.wallMs).toBeGreaterThanOrEqual(1800);
    expect(paced.errors).toBe(0);
    // Speed changes when readings go out, not which: the same run unpaced covers the same device time and
    // sends exactly the same.
    const unpaced = await run('max');
    expect(paced.readingsSent).toBeGreaterThan(0);
    expect(paced.readingsSent).toBe(unpaced.readingsSent);
    expect(paced.simulatedMs).toBe(unpaced.simulatedMs);
    expect(paced.acked).toBe(paced.published);
  });

  it('logs every device in with its own password, refuses wrong ones, and publishes naps as the service account', async () => {
    const scenario = loadScenario('chaos');
    const { fleet, credentials } = scenarioFleet(scenario, '2026-01', 1);
    const nap = { username: 'sim-caregiver', password: 'nap-secret' };
    const watcher = { username: 'watcher', password: 'watch-secret' };
    const secured = await startMosquitto('auth', {
      ...credentials,
      [nap.username]: nap.password,
      [watcher.username]: watcher.password,
    });
    const file = join(dir, 'chaos.jsonl');
    const sub = await subscriber(secured, watcher);
    const summary = await runSimulation({
      fleet,
      scenario,
      credentials,
      napAccount: nap,
      startTime: START,
      durationMs: 3 * 60_000,
      speed: 'max',
      url: secured,
      record: file,
    }).done;
    const records = recorded(file);
    const wrong = records.filter((r) => r.fault === 'wrong-password');
    expect(wrong.length).toBeGreaterThan(0);
    expect(summary.refusedConnects).toBe(wrong.length);
    // A refused wrong password is the expected outcome, not an error.
    expect(summary.errors).toBe(0);
    expect(summary.acked).toBe(records.filter((r) => r.op === 'publish').length);
    await waitFor(
      () => sub.seen.some((m) => m.topic.endsWith('/nap') && m.payload.includes('"by":"sim-caregiver"')),
      {
        what: 'nap message',
      },
    );
    await sub.close();
  });

  it('spreads the connections over a list of brokers in turn, each device on one of them', async () => {
    const scenario = loadScenario('alarm-press');
    const { fleet } = scenarioFleet(scenario, '2026-01', 1);
    const other = await startMosquitto('second');
    const subs = [await subscriber(url), await subscriber(other)];
    const summary = await runSimulation({
      fleet,
      scenario,
      startTime: START,
      durationMs: 20_000,
      speed: 'max',
      url: `${url},${other}`,
    }).done;
    expect(summary.errors).toBe(0);
    await waitFor(() => subs[0]!.seen.length + subs[1]!.seen.length >= summary.acked, {
      what: 'all messages',
    });
    const devices = subs.map(
      (sub) => new Set(sub.seen.map((m) => /\/devices\/([^/]+)\//.exec(m.topic)?.[1]).filter(Boolean)),
    );
    // alarm-press's 12 devices: 6 on each broker, none on both.
    expect(devices.map((d) => d.size)).toEqual([6, 6]);
    expect([...devices[0]!].filter((d) => devices[1]!.has(d))).toEqual([]);
    await Promise.all(subs.map((sub) => sub.close()));
  });

  it('stops on request and reports what it sent', async () => {
    const scenario = loadScenario('nap-time');
    const { fleet } = scenarioFleet(scenario, '2026-01', 1);
    const handle = runSimulation({ fleet, scenario, startTime: START, speed: 1, url });
    await waitFor(() => handle.stats().acked > 20, { what: 'first acknowledgements' });
    await handle.stop();
    const summary = await handle.done;
    expect(summary.stopped).toBe(true);
    // Nothing goes out after the stop: what was counted then is all there is.
    await new Promise((r) => setTimeout(r, 300));
    expect(handle.stats().published).toBe(summary.published);
    expect(summary.errors).toBe(0);
    expect(summary.acked).toBe(summary.published);
    expect(summary.simulatedMs).toBeLessThan(scenario.duration);
  });

  it('reconnects after a broker restart and delivers every QoS 1 message', async () => {
    const port = await freePort();
    const at = await startMosquitto('restart', undefined, port);
    const scenario = loadScenario('alarm-press');
    const { fleet } = scenarioFleet(scenario, '2026-01', 1);
    const handle = runSimulation({
      fleet,
      scenario,
      startTime: START,
      durationMs: 40_000,
      speed: 10,
      url: at,
    });
    await waitFor(() => handle.stats().connected === 12 && handle.stats().acked > 50, { what: 'devices up' });
    const first = brokers.at(-1)!;
    first.kill('SIGKILL');
    await waitFor(() => handle.stats().connected === 0, { what: 'connections lost' });
    // Reconnect attempts fail while the broker is down: the run must count them, not stall on them.
    await waitFor(() => handle.stats().errors > 0, { what: 'failed reconnect attempts counted' });
    await startMosquitto('restart', undefined, port);
    const summary = await handle.done;
    expect(summary.acked).toBe(summary.published);
  });
});

/**
 * The broker's persistence under the pipeline's traffic shape: BENCH_CLIENTS device connections (default
 * 2,000 wearables, each its own login) publishing QoS 1 telemetry at BENCH_RATE messages/s each (default 0.5),
 * and two persistent (clean: false) QoS 1 subscribers on the services' wildcard filters, as ingest and rules
 * log in. After a measured window the `rules` subscriber leaves until BENCH_QUEUE messages (default 5,000)
 * are queued for it, then returns: the queue's replay is timed while the devices keep publishing.
 *
 *   npx tsx bench/redis-persistence.ts                       # Redis persistence (its own redis-server)
 *   BENCH_STORE=memory npx tsx bench/redis-persistence.ts    # the in-memory persistence, same load
 *   BENCH_CPU_PROF=prof npx tsx bench/redis-persistence.ts   # and a V8 CPU profile of the broker in prof/
 *
 * The broker runs as its own process (`cradlewatch broker --redis`, or `--memory-sessions`), Redis in a redis-server of its own on a
 * free port and a temporary directory (append-only, fsync every second), both stopped at the end; devices
 * and subscribers run in this process. A run takes ~50 s at the defaults (BENCH_SECONDS, default 20, is the
 * measured window; a replay not done in 25 s is reported as such). Reported: messages/s the broker
 * acknowledged and delivered, Redis commands and socket reads per message (INFO over the window), CPU of the
 * broker and of redis-server per message (/proc), the PUBACK latency the devices saw, the replay's time, and
 * with a profile the broker's top self-time functions in the window.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { LeanClient } from '../device-sim/lean-client.ts';
import { waitFor } from '../lib/net.ts';
import { filters, topics } from '../protocol/topics.ts';
import { type BrokerProcess, credentials, makeTestFleet, spawnBroker } from '../test/support/broker.ts';
import { startRedis } from '../test/support/redis.ts';
import { selfTime } from './cpu-profile.ts';
import { onExit } from './on-exit.ts';

const STORE = process.env.BENCH_STORE ?? 'redis';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2_000);
/** 1,000 messages/s at the defaults: what the Redis-backed broker sustains on this shared 2-core box (4,000 did not). */
const RATE = Number(process.env.BENCH_RATE ?? 0.5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const QUEUE = Number(process.env.BENCH_QUEUE ?? 5_000);
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const WARMUP_MS = 3_000;
/** A replay not done by then is reported as such, so a run stays within a minute or so. */
const REPLAY_TIMEOUT_MS = 25_000;
/** New device logins per second: the broker runs two scrypt checks at a time per address. */
const CONNECTS_PER_SECOND = 500;

if (STORE !== 'redis' && STORE !== 'memory') throw new Error(`BENCH_STORE: redis or memory, not ${STORE}`);

/** CPU seconds (user + system) a process has used: /proc's utime and stime, in clock ticks of 1/100 s. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Calls per command (INFO commandstats), and the read events Redis processed (INFO stats): a read is one
 * socket write of a client's, however many commands it carried, so reads per message show pipelining.
 */
async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1]!, Number(match[2]));
  }
  const reads = /total_reads_processed:(\d+)/.exec(await redis.info('stats'));
  calls.set(READS, Number(reads?.[1] ?? 0));
  return calls;
}

const READS = '(socket reads)';

/**
 * The devices: each its own connection and login (opened at CONNECTS_PER_SECOND, so the broker's
 * per-address scrypt queue is not what is measured), publishing on a timer whether or not its last message
 * is acknowledged yet, as the simulator's devices do.
 */
async function startDevices(url: string, logins: { id: string; center: string; password: string }[]) {
  const { hostname, port } = new URL(url);
  const clients: LeanClient[] = [];
  for (const login of logins) {
    clients.push(
      new LeanClient({
        host: hostname,
        port: Number(port),
        clientId: login.id,
        username: login.id,
        password: login.password,
        keepaliveSeconds: 60,
        reconnectMs: 0,
      }),
    );
    if (clients.length % 50 === 0) await sleep((50 * 1000) / CONNECTS_PER_SECOND);
  }
  await waitFor(() => clients.every((c) => c.connected), { timeoutMs: 60_000, what: 'device logins' });
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000 });
  const counts = { sent: 0, acked: 0, failed: 0 };
  /** Sees each acknowledged message: its key (device#seq) and when it was sent. */
  const acks = { on: (_key: string, _sentAt: number) => {} };
  const timers: NodeJS.Timeout[] = [];
  const period = 1000 / RATE;
  for (const [i, client] of clients.entries()) {
    const { id, center } = logins[i]!;
    const topic = topics.deviceTelemetry(center, id);
    let seq = 0;
    const tick = () => {
      seq += 1;
      const key = `${id}#${seq}`;
      const sentAt = performance.now();
      const reading = { v: 1, ts: Date.now(), seq, skinTempC: 36.4, motion: 0.3, worn: true, battery: 80 };
      counts.sent += 1;
      client.publish(topic, JSON.stringify(reading), 1, false, (error) => {
        if (error) {
          counts.failed += 1;
          return;
        }
        counts.acked += 1;
        latency.recordValue(Math.max(1, Math.round(performance.now() - sentAt)));
        acks.on(key, sentAt);
      });
    };
    // Spread over the period, as a fleet's clocks are.
    timers.push(setTimeout(() => timers.push(setInterval(tick, period)), Math.random() * period));
  }
  return {
    counts,
    latency,
    acks,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      await Promise.all(clients.map((c) => c.end(false)));
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A persistent QoS 1 subscriber on the services' telemetry filters (mqtt.js acknowledges each message),
 * counting from the first packet: a returning session's queue comes right after its CONNACK. `keep` also
 * keeps each message's key (device#seq).
 */
async function subscriber(url: string, login: ReturnType<typeof credentials>, keep = false) {
  const client = mqtt.connect(url, {
    ...login,
    protocolVersion: 4,
    clean: false,
    keepalive: 60,
    reconnectPeriod: 0,
  });
  const received = { count: 0, keys: new Set<string>() };
  client.on('message', (topic, payload) => {
    received.count += 1;
    if (!keep) return;
    const { seq } = JSON.parse(payload.toString()) as { seq: number };
    received.keys.add(`${topic.split('/')[4]}#${seq}`);
  });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  await client.subscribeAsync(filters.telemetry(), { qos: 1 });
  return { client, received };
}

/** What a process used over a window: CPU seconds, and Redis commands when it is the Redis server. */
async function snapshot(pids: Record<string, number | undefined>, admin: Redis | undefined) {
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) if (pid) cpu[name] = cpuSeconds(pid);
  return {
    at: performance.now(),
    /** What V8 stamps profile samples with (µs of the monotonic clock). */
    monotonicUs: Number(process.hrtime.bigint() / 1000n),
    cpu,
    commands: admin ? await commandStats(admin) : new Map<string, number>(),
  };
}

function perMessage(before: Map<string, number>, after: Map<string, number>, messages: number) {
  const rows = [...after]
    .filter(([command]) => command !== READS)
    .map(([command, calls]) => ({ command, perMessage: (calls - (before.get(command) ?? 0)) / messages }))
    .filter((r) => r.perMessage >= 0.001)
    .sort((a, b) => b.perMessage - a.perMessage);
  const total = rows.reduce((sum, r) => sum + r.perMessage, 0);
  const reads = ((after.get(READS) ?? 0) - (before.get(READS) ?? 0)) / messages;
  return { rows: rows.map((r) => ({ ...r, perMessage: r.perMessage.toFixed(3) })), total, reads };
}

async function main(): Promise<void> {
  const infantsPerRoom = 20;
  const rooms = Math.ceil(CLIENTS / infantsPerRoom);
  process.stderr.write(`fleet of ${CLIENTS} wearables…\n`);
  const fleet = makeTestFleet({ centers: Math.ceil(rooms / 10), roomsPerCenter: 10, infantsPerRoom });
  const logins = [...fleet.fleet.devices.values()]
    .filter((d) => d.kind === 'wearable')
    .slice(0, CLIENTS)
    .map((d) => ({ id: d.id, center: d.center, password: fleet.passwords[d.id]! }));
  const redisServer = STORE === 'redis' ? await startRedis() : undefined;
  const admin = redisServer ? new Redis(redisServer.url) : undefined;
  const redisPid = admin ? Number(/process_id:(\d+)/.exec(await admin.info('server'))![1]) : undefined;
  const forgetRedis = onExit(() => {
    if (redisPid) process.kill(redisPid, 'SIGKILL');
    if (redisServer) rmSync(redisServer.dir, { recursive: true, force: true });
    fleet.remove();
  });
  let broker: BrokerProcess | undefined;
  let devices: Awaited<ReturnType<typeof startDevices>> | undefined;
  try {
    broker = await spawnBroker(
      [
        ...['--fleet', fleet.fleetFile, '--config', fleet.configFile],
        ...(redisServer ? ['--redis', redisServer.url] : ['--memory-sessions']),
      ],
      { CW_LOG_LEVEL: 'error' },
      PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    );
    const running = broker;
    const forgetBroker = onExit(() => {
      running.child.kill('SIGKILL');
      rmSync(running.home, { recursive: true, force: true });
    });
    const pids = { broker: broker.child.pid, 'redis-server': redisPid };

    const ingest = await subscriber(broker.mqtt, credentials(fleet, 'svc-ingest'));
    let rules = await subscriber(broker.mqtt, credentials(fleet, 'svc-rules'));
    process.stderr.write(`${STORE}: ${CLIENTS} devices logging in…\n`);
    devices = await startDevices(broker.mqtt, logins);
    const { counts } = devices;
    let replaying = '';
    const progress = setInterval(() => {
      const { sent, acked } = counts;
      const received = `${ingest.received.count} + ${rules.received.count}`;
      process.stderr.write(`  sent ${sent}, acked ${acked}, received ${received}${replaying}\n`);
    }, 5_000);
    await sleep(WARMUP_MS);

    process.stderr.write(`measuring ${SECONDS} s…\n`);
    const acked0 = counts.acked;
    const delivered0 = ingest.received.count + rules.received.count;
    devices.latency.reset();
    const before = await snapshot(pids, admin);
    await sleep(SECONDS * 1000);
    const after = await snapshot(pids, admin);
    const acked = counts.acked - acked0;
    const delivered = ingest.received.count + rules.received.count - delivered0;
    const seconds = (after.at - before.at) / 1000;
    const latency = devices.latency;
    const p = (q: number) => latency.getValueAtPercentile(q);

    // The replay: rules leaves, QUEUE messages are acknowledged meanwhile (each must be in its queue), and it
    // comes back; timed from its CONNECT until it has every one of them, live traffic continuing.
    process.stderr.write(`replay of ${QUEUE} queued messages…\n`);
    await rules.client.endAsync();
    const left = performance.now();
    const queued = new Set<string>();
    devices.acks.on = (key, sentAt) => {
      if (sentAt > left) queued.add(key);
    };
    await waitFor(() => queued.size >= QUEUE, { timeoutMs: 60_000, intervalMs: 10, what: 'the queue' });
    devices.acks.on = () => {};
    const listed = admin ? await admin.llen('outgoing:svc-rules') : undefined;
    const back = performance.now();
    rules = await subscriber(broker.mqtt, credentials(fleet, 'svc-rules'), true);
    // Messages already received count, the ones that came before the SUBACK included.
    const missing = () => [...queued].filter((k) => !rules.received.keys.has(k)).length;
    const progressOfReplay = setInterval(() => (replaying = `, replay missing ${missing()}`), 4_900);
    await waitFor(() => missing() === 0, {
      timeoutMs: REPLAY_TIMEOUT_MS,
      intervalMs: 20,
      what: 'the replay',
    }).catch((error: Error) =>
      process.stderr.write(`${error.message}: ${missing()} of ${queued.size} missing\n`),
    );
    const replaySeconds = (performance.now() - back) / 1000;
    clearInterval(progressOfReplay);
    // What stays queued once the replay is acknowledged: live messages in flight, nothing stuck.
    await sleep(1_000);
    const leftListed = admin ? await admin.llen('outgoing:svc-rules') : undefined;

    clearInterval(progress);
    // Publishes still unacknowledged fail when their connection ends: only those before are counted.
    const failed = counts.failed;
    await devices.stop();
    devices = undefined;
    await Promise.all([ingest.client.endAsync(), rules.client.endAsync()]);
    forgetBroker();
    await broker.stop();
    rmSync(broker.home, { recursive: true, force: true });
    broker = undefined;

    const cpu = (name: string) => (after.cpu[name] ?? 0) - (before.cpu[name] ?? 0);
    const commands = perMessage(before.commands, after.commands, acked);
    console.log(
      `\n${STORE} persistence: ${CLIENTS} devices × ${RATE}/s QoS 1, 2 persistent QoS 1 subscribers, ${SECONDS} s window\n`,
    );
    console.table({
      'acknowledged msgs/s': Math.round(acked / seconds),
      'delivered msgs/s (both subscribers)': Math.round(delivered / seconds),
      'PUBACK p50 / p99 / max ms': `${p(50)} / ${p(99)} / ${latency.maxValue}`,
      'broker CPU % of a core': Math.round((cpu('broker') / seconds) * 100),
      'broker CPU µs per message': Math.round((cpu('broker') / acked) * 1e6),
      ...(redisPid
        ? {
            'redis-server CPU % of a core': Math.round((cpu('redis-server') / seconds) * 100),
            'redis-server CPU µs per message': Math.round((cpu('redis-server') / acked) * 1e6),
            'Redis commands per message': commands.total.toFixed(2),
            'Redis socket reads per message': commands.reads.toFixed(2),
            'outgoing:svc-rules entries before return': listed,
            'outgoing:svc-rules entries 1 s after the replay': leftListed,
          }
        : {}),
      [`replay of ${queued.size} queued, s`]: replaySeconds.toFixed(2),
      'publishes failed': failed,
    });
    if (admin) console.table(commands.rows);
    if (PROFILE_DIR) {
      const newest = readdirSync(PROFILE_DIR)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(PROFILE_DIR, f))
        .sort()
        .at(-1);
      if (newest) {
        const window = { from: before.monotonicUs, to: after.monotonicUs };
        const { functions, packages } = selfTime(newest, window);
        const rows = (list: typeof functions) =>
          list.map((f) => ({ name: f.name, ms: f.ms, share: `${(f.share * 100).toFixed(1)} %` }));
        console.log(`\nbroker self time in the ${SECONDS} s window (${newest}):`);
        console.table(rows(packages));
        console.table(rows(functions));
      }
    }
  } catch (error) {
    if (broker) process.stderr.write(`broker output:\n${broker.output().slice(-3_000)}\n`);
    throw error;
  } finally {
    await devices?.stop();
    await broker?.stop();
    if (broker) rmSync(broker.home, { recursive: true, force: true });
    admin?.disconnect();
    await redisServer?.stop();
    forgetRedis();
    fleet.remove();
  }
}

// Ctrl-C or a timeout's SIGTERM still stops the broker and redis-server (on-exit.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();

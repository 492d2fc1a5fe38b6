import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { localRedisSocket } from '../../broker/local-redis.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { type Ingest, startIngest } from '../../ingest/service.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { influxRows } from '../../lib/influx/query.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freePort, waitFor } from '../../lib/net.ts';
import { freshInflux } from '../support/influx.ts';
import {
  WEARABLES,
  deviceTopic,
  tempDir,
  testConfig,
  testFleetIndex,
  wearable,
  writeFleetFile,
} from '../support/ingest.ts';
import { type TcpProxy, relay } from '../support/tcp-proxy.ts';
import { type Service, brokerProcess, brokerStore, stopBrokerStore } from './processes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Readings per 50 ms tick from the four wearables: 400/s, steady before, across and after the kill. */
const PER_TICK = 20;

/**
 * A device side that keeps publishing QoS 1 readings through the broker's death and return (reconnecting
 * every 100 ms, as a fleet does, which is sooner than ingest's backoff), and records the seq of each one the
 * broker acknowledged with a PUBACK.
 */
function steadyPublisher(url: string) {
  const client: MqttClient = mqtt.connect(url, {
    clientId: `pub-${Math.random().toString(36).slice(2, 8)}`,
    protocolVersion: 4,
    reconnectPeriod: 100,
    connectTimeout: 2_000,
  });
  client.on('error', () => {});
  const acknowledged = new Set<number>();
  const pending = new Set<Promise<void>>();
  let lastSeq = 0;
  const tick = setInterval(() => {
    // A device with no connection keeps its readings; only PUBACKs count here, so it just waits.
    if (!client.connected || pending.size > 200) return;
    for (let i = 0; i < PER_TICK; i++) {
      const reading = wearable();
      lastSeq = reading.seq as number;
      const device = WEARABLES[i % WEARABLES.length]!;
      const sent = client
        .publishAsync(deviceTopic(device), JSON.stringify({ v: 1, ...reading }), { qos: 1 })
        .then(
          () => void acknowledged.add(reading.seq as number),
          () => {},
        )
        .finally(() => pending.delete(sent));
      pending.add(sent);
    }
  }, 50);
  return {
    acknowledged,
    /** The seq of the newest reading made so far: those above it are published later. */
    lastSeq: () => lastSeq,
    /** Stops publishing and waits for the PUBACKs still due (the broker is up by then). */
    async stop() {
      clearInterval(tick);
      await Promise.race([Promise.all(pending), sleep(10_000)]);
      client.end(true);
    },
  };
}

/** The seq of every wearable reading in InfluxDB (one point per reading: a redelivery overwrites it). */
async function writtenSeqs(influx: InfluxConnection): Promise<Set<number>> {
  const rows = await influxRows(influx, 'SELECT "seq" FROM "wearable"');
  return new Set(rows.map((r) => Number(r.seq)));
}

/** The pid of the redis-server keeping the sessions of the broker run in `home`. */
async function storePid(home: string): Promise<number> {
  const client = new Redis({ path: localRedisSocket(brokerStore(home)) });
  try {
    return Number(/process_id:(\d+)/.exec(await client.info('server'))![1]);
  } finally {
    client.disconnect();
  }
}

/** The numbers of test/faults/README.md's table. */
function report(name: string, numbers: string): void {
  console.log(`[faults] ${name}: ${numbers}`);
}

interface Outcome {
  acknowledged: number;
  /** Of those, readings made after the kill: the stream went on through the restart. */
  acknowledgedAfter: number;
  written: number;
  /** Acknowledged and not written: made before the kill, and after it. */
  missing: { before: number; after: number };
  /** Deliveries to ingest beyond one per reading (redelivered by the broker or resent by the publisher). */
  duplicates: number;
  /**
   * Seconds from the kill: the broker accepting connections again, ingest let through to it (after the
   * devices), ingest's CONNACK, and the first reading made after the kill in InfluxDB (NaN: none was).
   */
  back: number;
  letIn: number;
  reconnected: number;
  flowing: number;
  /** The restarted broker said it adopted the store its predecessor left running. */
  adopted: boolean;
}

/** Readings made after the restart that the broker acknowledges before ingest may reconnect. */
const AHEAD_OF_INGEST = 100;

describe('ingest across a broker kill -9 mid-stream (#15.3)', { timeout: 180_000 }, () => {
  let broker: Service | undefined;
  let ingest: Ingest | undefined;
  let door: TcpProxy | undefined;
  let home: string | undefined;

  afterEach(async () => {
    await ingest?.close().catch(() => {});
    await door?.cut();
    await broker?.stop();
    if (home) await stopBrokerStore(home);
    broker = ingest = door = home = undefined;
  });

  /**
   * `cradlewatch broker` with `args` beside its defaults, run in a temp dir (its default ./data/broker lands
   * there), ingest in-process with its own reconnect defaults on a real InfluxDB, 400 readings/s offered;
   * kill -9 after 3 s, the broker restarted at once on the same port, 3 s more readings, then count.
   * Ingest reaches the broker through a door the test shuts at the kill and opens once the restarted
   * broker has acknowledged AHEAD_OF_INGEST new readings: the devices are back before ingest, as a fleet
   * reconnecting every 100 ms is before a service whose backoff has grown, here every time rather than
   * when the timings happen to fall so.
   */
  async function killMidStream(args: string[], { andStore = false } = {}): Promise<Outcome> {
    home = tempDir('cw-broker-faults-');
    const port = await freePort();
    const fleetFile = writeFleetFile(home);
    broker = await brokerProcess(port, fleetFile, { home, args });
    const url = `mqtt://127.0.0.1:${port}`;
    let shut = false;
    // A shut door drops each connection at once: to ingest the broker is still down.
    door = await relay(() => (shut ? [] : [port]));
    const influx = await freshInflux();
    const ingestUrl = `mqtt://127.0.0.1:${door.port}`;
    const config = testConfig(influx, ingestUrl, {
      mqtt: { url: ingestUrl, clientId: `ingest-${Math.random().toString(36).slice(2, 8)}` },
    });
    ingest = await startIngest(config, silentLogger, { fleet: testFleetIndex() });
    const running = ingest;
    await waitFor(async () => (await running.ops.checks.mqtt!()).ok, { what: 'ingest subscribed' });

    const store = andStore ? await storePid(home) : undefined;
    const publisher = steadyPublisher(url);
    await sleep(3_000);
    await broker.kill9();
    shut = true;
    if (store) process.kill(store, 'SIGKILL');
    const killed = performance.now();
    const since = () => (performance.now() - killed) / 1000;
    const lastBefore = publisher.lastSeq();
    let reconnected = Number.NaN;
    let flowing = Number.NaN;
    let counted = false;
    const watching = (async () => {
      while (Number.isNaN(flowing) && !counted) {
        if (Number.isNaN(reconnected) && running.stats().connects > 1) reconnected = since();
        const after = await influxRows(
          influx,
          `SELECT count("seq") FROM "wearable" WHERE "seq" > ${lastBefore}`,
        );
        if (Number(after[0]?.count ?? 0) > 0) flowing = since();
        else await sleep(50);
      }
    })();
    broker = await brokerProcess(port, fleetFile, { home, args });
    const back = since();
    const lastBeforeBack = publisher.lastSeq();
    await waitFor(
      () => [...publisher.acknowledged].filter((seq) => seq > lastBeforeBack).length >= AHEAD_OF_INGEST,
      { what: `${AHEAD_OF_INGEST} readings acknowledged by the restarted broker`, intervalMs: 20 },
    );
    shut = false;
    const letIn = since();
    await sleep(3_000);
    await publisher.stop();
    const acknowledged = [...publisher.acknowledged];
    // Every acknowledged reading written, or (sessions lost) ingest back and idle: nothing more is coming.
    // Ingest's backoff may have grown to several seconds while the relay was shut; until it is back, a
    // count that stands still says nothing.
    let last = -1;
    await waitFor(
      async () => {
        const written = await writtenSeqs(influx);
        const idle = running.stats().connects > 1 && written.size === last;
        const settled = acknowledged.every((seq) => written.has(seq)) || idle;
        last = written.size;
        return settled;
      },
      { what: 'ingest done writing', timeoutMs: 60_000, intervalMs: 2_000 },
    );
    counted = true;
    await watching;
    const written = await writtenSeqs(influx);
    const missing = acknowledged.filter((seq) => !written.has(seq));
    return {
      acknowledged: acknowledged.length,
      acknowledgedAfter: acknowledged.filter((seq) => seq > lastBefore).length,
      written: written.size,
      missing: {
        before: missing.filter((seq) => seq <= lastBefore).length,
        after: missing.filter((seq) => seq > lastBefore).length,
      },
      duplicates: running.stats().received - written.size,
      back,
      letIn,
      reconnected,
      flowing,
      adopted: broker.lines.some((l) => /adopting the broker store/.test(l.msg)),
    };
  }

  const numbers = (o: Outcome) =>
    `${o.acknowledged} acknowledged (${o.acknowledgedAfter} made after the kill), ${o.written} written, ` +
    `${o.missing.before + o.missing.after} missing (${o.missing.before} made before the kill, ${o.missing.after} after), ` +
    `${o.duplicates} duplicates; seconds after the kill: broker back ${o.back.toFixed(1)}, ` +
    `ingest let in ${o.letIn.toFixed(1)}, reconnected ${o.reconnected.toFixed(1)}, ` +
    `a new reading written ${Number.isNaN(o.flowing) ? 'never' : o.flowing.toFixed(1)}`;

  it('default settings (sessions in ./data/broker): 0 acknowledged readings missing', async () => {
    const outcome = await killMidStream([]);
    report('broker kill -9 mid-stream, default (durable) sessions', numbers(outcome));
    // The store outlived the broker: the new one took it over instead of starting empty.
    expect(outcome.adopted).toBe(true);
    expect(outcome.acknowledged - outcome.acknowledgedAfter).toBeGreaterThan(0);
    expect(outcome.acknowledgedAfter).toBeGreaterThanOrEqual(AHEAD_OF_INGEST);
    expect(outcome.missing).toEqual({ before: 0, after: 0 });
    expect(outcome.flowing).toBeGreaterThan(0);
    // A graceful stop takes the store down with the broker.
    await broker!.stop();
    expect(spawnSync('pgrep', ['-af', home!], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('default settings, the store killed with the broker (a container dying whole): 0 missing', async () => {
    const outcome = await killMidStream([], { andStore: true });
    report('broker and its redis-server kill -9 mid-stream, default sessions', numbers(outcome));
    // A new store on the files the killed one wrote: Redis writes each change to them before it answers.
    expect(outcome.adopted).toBe(false);
    expect(outcome.acknowledgedAfter).toBeGreaterThanOrEqual(AHEAD_OF_INGEST);
    expect(outcome.missing).toEqual({ before: 0, after: 0 });
  });

  it('--memory-sessions (the opt-out): the readings acknowledged before ingest is back are lost', async () => {
    const outcome = await killMidStream(['--memory-sessions']);
    report('broker kill -9 mid-stream, --memory-sessions', numbers(outcome));
    expect(outcome.adopted).toBe(false);
    // No session survived to hold them: every one acknowledged while ingest was away is gone.
    expect(outcome.missing.after).toBeGreaterThanOrEqual(AHEAD_OF_INGEST);
  });
});

import { pathToFileURL } from 'node:url';
/**
 * QoS 1 messages/s from one publisher to one subscriber through the cradlewatch broker (registry
 * authentication and topic ACLs on, overload guard and packet-size guard in the path) next to a bare
 * Aedes on a plain net server, in one run, on loopback. Bounded: each broker gets BENCH_SECONDS (default 5)
 * of publishing and at most 10 s more for the subscriber to catch up.
 *
 *   npx tsx bench/broker-pubsub.ts
 *   BENCH_SECONDS=10 npx tsx bench/broker-pubsub.ts
 *
 * The publisher logs in as a `simulator` service account (the load generator's role: it may publish as any
 * device and is not rate-limited), the subscriber as `ingest`: the same roles the pipeline uses.
 */
import { type AddressInfo, createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type IClientOptions } from 'mqtt';
import { brokerConfigSchema } from '../broker/config.ts';
import { startBroker } from '../broker/server.ts';
import { hashPassword } from '../lib/credentials.ts';
import { silentLogger } from '../lib/logger.ts';
import { waitFor } from '../lib/net.ts';
import { topics } from '../protocol/topics.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** QoS 1 publishes awaiting PUBACK at once: keeps the pipe full with bounded memory. */
const WINDOW = 256;
const PAYLOAD = Buffer.from(
  JSON.stringify({
    v: 1,
    ts: Date.now(),
    seq: 1,
    posture: 'supine',
    skinTempC: 36.4,
    motion: 0.3,
    worn: true,
    battery: 80,
  }),
);

interface Result {
  broker: string;
  published: number;
  received: number;
  seconds: number;
  perSecond: number;
}

export async function measure(
  name: string,
  url: string,
  pub: IClientOptions,
  sub: IClientOptions,
  topic: string,
  seconds = SECONDS,
  payload: Buffer = PAYLOAD,
): Promise<Result> {
  const options = { protocolVersion: 4 as const, reconnectPeriod: 0 };
  const subscriber = await mqtt.connectAsync(url, { ...options, ...sub });
  let received = 0;
  subscriber.on('message', () => {
    received += 1;
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const publisher = await mqtt.connectAsync(url, { ...options, ...pub });
  let published = 0;
  let acked = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (published - acked < WINDOW && performance.now() < deadline) {
        published += 1;
        publisher.publish(topic, payload, { qos: 1 }, (error) => {
          if (error) return reject(error);
          acked += 1;
          if (acked === published && performance.now() >= deadline) resolve();
          else if (published - acked < WINDOW / 2) setImmediate(pump);
        });
      }
    };
    pump();
  });
  await waitFor(() => received >= published, {
    timeoutMs: 10_000,
    intervalMs: 5,
    what: `${name}: all messages`,
  });
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all([publisher.endAsync(), subscriber.endAsync()]);
  return { broker: name, published, received, seconds: elapsed, perSecond: Math.round(received / elapsed) };
}

/** The stock part's ceiling: a bare Aedes on a plain net server, same client load. */
export async function measureBareAedes(
  topic: string,
  seconds = SECONDS,
  payload: Buffer = PAYLOAD,
): Promise<Result> {
  const bare = await Aedes.createBroker();
  const server = createServer(bare.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return await measure(
      'bare Aedes',
      url,
      { clientId: 'bench-pub' },
      { clientId: 'bench-sub' },
      topic,
      seconds,
      payload,
    );
  } finally {
    await new Promise<void>((resolve) => bare.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  // Loaded here, not at the top: `cradlewatch bench` imports this module (ceilings.ts) and ships in the image
  // without test/, which only this script's own run from a checkout needs.
  const { makeTestFleet } = await import('../test/support/broker.ts');
  const fleet = makeTestFleet();
  const simulator = {
    username: 'bench-sim',
    role: 'simulator' as const,
    passwordHash: hashPassword('sim', { N: 1024 }),
  };
  const ingest = {
    username: 'bench-ingest',
    role: 'ingest' as const,
    passwordHash: hashPassword('ingest', { N: 1024 }),
  };
  const topic = topics.deviceTelemetry('c1', fleet.ids.wearable);
  const results: Result[] = [];
  try {
    const ours = await startBroker(
      brokerConfigSchema.parse({ port: 0, accounts: [...fleet.accounts, simulator, ingest] }),
      silentLogger,
      { fleet: fleet.fleet },
    );
    try {
      results.push(
        await measure(
          'cradlewatch (auth + ACL)',
          ours.mqttUrl,
          { clientId: simulator.username, username: simulator.username, password: 'sim' },
          { clientId: ingest.username, username: ingest.username, password: 'ingest' },
          topic,
        ),
      );
    } finally {
      await ours.close();
    }
    results.push(await measureBareAedes(topic));
  } finally {
    fleet.remove();
  }
  const bareRate = results[1]!.perSecond;
  console.log(
    `\n1 publisher → 1 subscriber, QoS 1, ${PAYLOAD.length}-byte payload, window ${WINDOW}, ${SECONDS} s each\n`,
  );
  console.table(
    results.map((r) => ({
      broker: r.broker,
      published: r.published,
      received: r.received,
      seconds: r.seconds.toFixed(2),
      'msgs/s': r.perSecond,
      'vs bare': (r.perSecond / bareRate).toFixed(2),
    })),
  );
}

// Run as a script; the harness (bench/harness.ts) imports the measurements.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { brokerConfigSchema } from '../../broker/config.ts';
import { type RunningBroker, startBroker } from '../../broker/server.ts';
import type { IngestConfig } from '../../ingest/config.ts';
import { type Ingest, startIngest } from '../../ingest/service.ts';
import { deviceTopic, tempDir, testConfig, testFleetIndex, wearable } from '../support/ingest.ts';
import type { InfluxConnection } from '../../lib/influx/connection.ts';
import { type Logger, silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import { countPoints } from '../support/influx.ts';

/**
 * The pieces every fault case needs: the project's own broker (its packet limit is what a poison record
 * ran into), ingest in-process against a real InfluxDB, a QoS 1 publisher that counts what the broker
 * acknowledged, and the broker's own count of ingest's connections.
 */
export interface FaultRig {
  broker: RunningBroker;
  ingest: Ingest;
  config: IngestConfig;
  pub: MqttClient;
  /** Readings the broker acknowledged to the publisher (PUBACK received). */
  acknowledged: number;
  /** CONNACKs the broker gave ingest's client id. */
  connects(): number;
  /** PUBACKs ingest sent the broker: each says a message is stored, so the broker may forget it. */
  ingestAcks(): number;
  /** QoS 1 messages the broker still holds for ingest: never acknowledged, so due again. */
  unacknowledged(): Promise<number>;
  /** Good readings from four devices at once, each waiting for its PUBACK, until stopped. */
  load(): { stop(): Promise<void> };
  /** Publishes `n` good readings of `device` at QoS 1, one at a time, counting each PUBACK. */
  publishGood(n: number, device?: string): Promise<void>;
  /** Wearable points in InfluxDB. */
  written(): Promise<number>;
  /** Waits until every acknowledged reading is in InfluxDB. */
  allWritten(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRig(
  influx: InfluxConnection,
  overrides: Parameters<typeof testConfig>[2] = {},
  log: Logger = silentLogger,
): Promise<FaultRig> {
  const broker = await startBroker(
    brokerConfigSchema.parse({
      port: 0,
      allowAnonymous: true,
      limits: { publishRate: 1_000_000, publishBurst: 1_000_000 },
    }),
    silentLogger,
  );
  const config = testConfig(influx, broker.mqttUrl, overrides);
  let connects = 0;
  let ingestAcks = 0;
  broker.aedes.on('client', (client) => {
    if (client.id === config.mqtt.clientId) connects++;
  });
  broker.aedes.on('ack', (_packet, client) => {
    if (client.id === config.mqtt.clientId) ingestAcks++;
  });
  const ingest = await startIngest(config, log, { fleet: testFleetIndex() });
  const pub = await mqtt.connectAsync(broker.mqttUrl, {
    clientId: `pub-${Math.random().toString(36).slice(2, 8)}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  const persistence = (broker.aedes as unknown as { persistence: unknown }).persistence as {
    outgoingStream(client: { id: string }): AsyncIterable<unknown>;
  };
  const written = () => countPoints(influx, 'wearable', 'seq', `"device" != '${PROBE}'`);
  const rig: FaultRig = {
    broker,
    ingest,
    config,
    pub,
    acknowledged: 0,
    connects: () => connects,
    ingestAcks: () => ingestAcks,
    async unacknowledged() {
      let n = 0;
      for await (const _packet of persistence.outgoingStream({ id: config.mqtt.clientId })) n++;
      return n;
    },
    async publishGood(n, device = 'w1') {
      for (let i = 0; i < n; i++) {
        await pub.publishAsync(deviceTopic(device), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
        rig.acknowledged++;
      }
    },
    load() {
      let stopped = false;
      const loops = ['w1', 'w2', 'w3', 'w4'].map(async (device) => {
        // A rig closed under a failed test ends the loops with "client disconnecting".
        while (!stopped) await rig.publishGood(5, device).catch(() => (stopped = true));
      });
      return {
        async stop() {
          stopped = true;
          await Promise.all(loops);
        },
      };
    },
    written,
    async allWritten(timeoutMs = 30_000) {
      await waitFor(async () => (await written()) >= rig.acknowledged, {
        what: `${rig.acknowledged} acknowledged readings in InfluxDB`,
        timeoutMs,
        intervalMs: 200,
      });
    },
    async close() {
      await pub.endAsync().catch(() => {});
      await ingest.close().catch(() => {});
      await broker.close();
      removeDirs(config);
    },
  };
  // Ingest subscribes after its CONNACK: a probe reading of w9 received says the path is open. Probes
  // stay out of the counts: the first ones may reach the broker before ingest's subscription.
  await waitFor(
    async () => {
      await pub.publishAsync(deviceTopic(PROBE), JSON.stringify({ v: 1, ...wearable() }), { qos: 1 });
      return ingest.stats().received > 0;
    },
    { what: 'ingest subscribed', intervalMs: 300 },
  );
  return rig;
}

const PROBE = 'w9';

/** The temp dirs testConfig made for the spool and dead letters go with the rig (a test's own dirs stay). */
export function removeDirs(config: IngestConfig): void {
  for (const dir of [dirname(config.spool.dir), dirname(config.deadletter.dir)]) {
    if (dirname(dir) === tmpdir() && basename(dir).startsWith('cw-ingest-'))
      rmSync(dir, { recursive: true, force: true });
  }
}

export { tempDir };

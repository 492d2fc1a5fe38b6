import mqtt from 'mqtt';
import { brokerConfigSchema } from './broker/config.ts';
import { startBroker } from './broker/server.ts';
import { connectIngestMqtt, type AckToken } from './ingest/mqtt-client.ts';
import { silentLogger } from './lib/logger.ts';

const HOLD_MS = Number(process.env.HOLD_MS ?? 2000);
const broker = await startBroker(brokerConfigSchema.parse({ port: 0, allowAnonymous: true, limits: { publishRate: 1e7, publishBurst: 1e7 } }), silentLogger);
const url = broker.mqttUrl;
const seen = new Set<number>();
let held: AckToken[] = [];
let dupIds = 0;
const ing = connectIngestMqtt({ url, clientId: 'sess', keepaliveS: 30, reconnectMinMs: 100, reconnectMaxMs: 300, subscriptions: ['t/#'], maxPublishBytes: 4096,
  onMessage(_t, p, ack, next) { seen.add(Number(p.toString())); held.push(ack); next(); } }, silentLogger);
let acksSent = 0;
const release = setInterval(() => { const h = held; held = []; for (const a of h) a.release(); acksSent += h.length; }, HOLD_MS);
await new Promise((r) => setTimeout(r, 500));
const pubs = await Promise.all(Array.from({ length: 16 }, () => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })));
let n = 0, acked = 0, stop = false;
const loops = pubs.map(async (p, i) => { while (!stop) { const batch = []; for (let k = 0; k < 20; k++) { const id = n++; batch.push(p.publishAsync(`t/${i}`, String(id), { qos: 1 }).then(() => acked++)); } await Promise.all(batch); } });
for (let k = 0; k < 5; k++) {
  await new Promise((r) => setTimeout(r, 2500));
  (ing.client as unknown as { stream: { destroy(): void } }).stream.destroy();
}
await new Promise((r) => setTimeout(r, 2000));
stop = true; await Promise.all(loops);
let last = -1;
for (let i = 0; i < 40 && seen.size !== last; i++) { last = seen.size; await new Promise((r) => setTimeout(r, HOLD_MS + 500)); }
let queued = 0;
for await (const _ of (broker.aedes as unknown as { persistence: { outgoingStream(c: { id: string }): AsyncIterable<unknown> } }).persistence.outgoingStream({ id: 'sess' })) queued++;
console.log(JSON.stringify({ acked, received: seen.size, missing: acked - seen.size, stillQueuedForSubscriber: queued }));
process.exit(0);

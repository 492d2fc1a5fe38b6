import { createServer, get, type Server } from 'node:http';
import { EventSource } from 'eventsource';
import mqtt from 'mqtt';
import { afterAll, beforeAll } from 'vitest';
import { type RunningMosquitto, startMosquitto } from '../../test/support/mosquitto.ts';
import { influxRows } from '../../lib/influx/query.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freePort } from '../../lib/net.ts';
import { hashPassword } from '../../lib/credentials.ts';
import { brokerConfigSchema, type RunningBroker, startBroker } from '../../broker/index.ts';
import { testFleet } from '../../test/support/rules/memory.ts';
import { freshInflux } from '../../test/support/influx.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { channelContract, type Observed } from './channel-contract.ts';
import { InfluxHistoryChannel } from './influx.ts';
import { MqttAlertChannel } from './mqtt.ts';
import { SseHub } from './sse.ts';
import { tcpProxy } from '../../test/support/tcp-proxy.ts';
import { webhookReceiver } from '../../test/support/rules/webhook-receiver.ts';
import { WebhookChannel } from './webhook.ts';
import { webhookSchema } from './webhook-config.ts';

let mosquitto: RunningMosquitto;
let ours: RunningBroker;
const password = 'channel-test-secret';
beforeAll(async () => {
  const passwordHash = hashPassword(password, { N: 1024 });
  [mosquitto, ours] = await Promise.all([
    startMosquitto(),
    startBroker(
      brokerConfigSchema.parse({
        port: 0,
        accounts: [
          { username: 'rules', passwordHash, role: 'rules' },
          { username: 'observer', passwordHash, role: 'supervisor' },
        ],
      }),
      silentLogger,
      { fleet: testFleet },
    ),
  ]);
});
afterAll(async () => {
  await mosquitto?.stop();
  await ours?.close();
});

/** The MQTT channel against a broker: publishing through a relay the test can cut, observed directly. */
function mqttHarness(
  name: string,
  broker: () => { port: number; auth: (user: string) => mqtt.IClientOptions },
) {
  channelContract({
    name,
    async create() {
      const { port, auth } = broker();
      const proxy = await tcpProxy(port);
      const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${proxy.port}`, {
        reconnectPeriod: 200,
        ...auth('rules'),
      });
      const observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, auth('observer'));
      const seen: Observed[] = [];
      observer.on('message', (topic, payload, packet) => {
        // Retained copies of earlier tests' alerts arrive on subscribe; only live publishes count here.
        if (packet.retain) return;
        const id = topic.split('/')[4]!;
        seen.push({
          id,
          state: payload.length === 0 ? 'resolved' : (JSON.parse(payload.toString()) as Alert).state,
        });
      });
      await observer.subscribeAsync('cw/v1/c1/alerts/+', { qos: 1 });
      return {
        channel: new MqttAlertChannel(publisher, silentLogger, 3_000),
        observed: async () => seen,
        breakPeer: () => proxy.cut(),
        async teardown() {
          await publisher.endAsync(true);
          await observer.endAsync(true);
          await proxy.cut();
        },
      };
    },
  });
}

mqttHarness('MQTT (retained alert topics, Debian mosquitto)', () => ({
  port: mosquitto.port,
  auth: () => ({}),
}));
mqttHarness('MQTT (retained alert topics, our broker with ACLs)', () => ({
  port: Number(new URL(ours.mqttUrl).port),
  auth: (username) => ({
    username,
    password,
    clientId: `${username}-${Math.random().toString(36).slice(2)}`,
  }),
}));

channelContract({
  name: 'webhook (generic JSON, local receiver)',
  async create() {
    const receiver = await webhookReceiver();
    const config = webhookSchema.parse({
      name: 'contract',
      url: receiver.url,
      backoffMs: 50,
      closeTimeoutMs: 2_000,
    });
    return {
      channel: new WebhookChannel(config, (alert) => alert.message.en ?? '', silentLogger),
      observed: async () =>
        receiver.requests.map((r) => {
          const { alert } = r.body as { alert: Alert };
          return { id: alert.id, state: alert.state };
        }),
      breakPeer: () => receiver.close(),
      teardown: () => receiver.close(),
    };
  },
});

channelContract({
  name: 'InfluxDB alert history (real InfluxDB)',
  async create() {
    const conn = await freshInflux();
    const proxy = await tcpProxy(Number(new URL(conn.url).port));
    const viaProxy = { ...conn, url: `http://127.0.0.1:${proxy.port}` };
    return {
      channel: new InfluxHistoryChannel(viaProxy, 'en', silentLogger, 100, 3_000),
      observed: async () => {
        const rows = await influxRows(conn, 'SELECT "alert_id", "state" FROM "alert"');
        return rows.map((r) => ({ id: String(r.alert_id), state: r.state as Alert['state'] }));
      },
      breakPeer: () => proxy.cut(),
      teardown: () => proxy.cut(),
    };
  },
});

channelContract({
  name: 'SSE hub (real HTTP server and EventSource client)',
  async create() {
    const hub = new SseHub(silentLogger, { maxBufferedBytes: 16 * 1024 });
    const server: Server = createServer((_req, res) => hub.attach(res, null, []));
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const seen: Observed[] = [];
    const source = new EventSource(`http://127.0.0.1:${port}/`);
    source.addEventListener('alert', (event) => {
      const { alert } = JSON.parse(event.data) as { alert: Alert };
      seen.push({ id: alert.id, state: alert.state });
    });
    await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }));
    const stalled: Array<{ destroy(): void }> = [];
    return {
      channel: hub,
      observed: async () => seen,
      async breakPeer() {
        // A client that stops reading: its socket buffers fill and the hub must cut it off, not wait.
        source.close();
        await new Promise<void>((resolve) => {
          const req = get(`http://127.0.0.1:${port}/`, (res) => {
            res.pause();
            stalled.push(req);
            resolve();
          });
        });
      },
      async teardown() {
        source.close();
        for (const req of stalled) req.destroy();
        await hub.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
});

import { createHmac } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningMosquitto, startMosquitto } from '../../test/support/mosquitto.ts';
import { influxRows } from '../../lib/influx/query.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import { freshInflux } from '../../test/support/influx.ts';
import { testFleet } from '../../test/support/rules/memory.ts';
import { sampleTransition } from './channel-contract.ts';
import { channelsConfigSchema, createChannels } from './index.ts';
import { MqttAlertChannel } from './mqtt.ts';
import { renderAlertText } from '../text/index.ts';
import { type WebhookReceiver, webhookReceiver } from '../../test/support/rules/webhook-receiver.ts';
import { webhookMetrics } from './metrics.ts';
import { WebhookChannel } from './webhook.ts';
import { type AlertText, webhookSchema } from './webhook-config.ts';

const text: AlertText = (alert, locale, withNames) =>
  renderAlertText(alert, testFleet, { withNames, locale });

const proneAlert = {
  center: 'ca',
  room: 'ca-r1',
  rule: 'prone-sleep' as const,
  severity: 'critical' as const,
  subject: { kind: 'infant' as const, id: 'inf-a1' },
  value: 35,
  message: { 'zh-CN': '1 号睡眠室 婴儿趴睡已 35 秒', en: 'Infant in nap room 1 has been prone for 35 s' },
};

describe('MQTT alert topics (real mosquitto)', () => {
  let broker: RunningMosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(() => broker.stop());

  async function retainedOn(topic: string): Promise<string | null> {
    const client = await mqtt.connectAsync(broker.url);
    try {
      return await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 500);
        client.on('message', (_t, payload) => {
          clearTimeout(timer);
          resolve(payload.toString());
        });
        void client.subscribeAsync(topic, { qos: 1 });
      });
    } finally {
      await client.endAsync(true);
    }
  }

  it('keeps the alert retained while open and clears it on resolve', async () => {
    const client = await mqtt.connectAsync(broker.url);
    const channel = new MqttAlertChannel(client, silentLogger);
    const raised = sampleTransition({ id: 'retained-1', center: 'ca', alert: proneAlert });
    channel.deliver(raised);
    channel.deliver(
      sampleTransition({ id: 'retained-1', kind: 'acknowledged', center: 'ca', alert: proneAlert }),
    );
    await channel.close();
    const open = await retainedOn('cw/v1/ca/alerts/retained-1');
    expect(JSON.parse(open!)).toMatchObject({
      id: 'retained-1',
      state: 'acknowledged',
      acknowledgedBy: 'Ms Li',
    });
    expect(open).not.toContain('王小明');

    const again = new MqttAlertChannel(client, silentLogger);
    again.deliver(sampleTransition({ id: 'retained-1', kind: 'resolved', center: 'ca', alert: proneAlert }));
    await again.close();
    expect(await retainedOn('cw/v1/ca/alerts/retained-1')).toBeNull();
    await client.endAsync();
  });
});

describe('webhooks (real local receivers)', () => {
  const receivers: WebhookReceiver[] = [];
  const channels: WebhookChannel[] = [];
  const receiver = async () => {
    const r = await webhookReceiver();
    receivers.push(r);
    return r;
  };
  const channel = (config: Record<string, unknown>) => {
    const c = new WebhookChannel(
      webhookSchema.parse({ backoffMs: 20, closeTimeoutMs: 1_000, ...config }),
      text,
      silentLogger,
    );
    channels.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(channels.splice(0).map((c) => c.close()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it('sends the WeCom group-robot markdown message, without names unless configured', async () => {
    const r = await receiver();
    channel({ name: 'wecom', url: `${r.url}?key=abc`, format: 'wecom' }).deliver(
      sampleTransition({ id: 'wc-1', center: 'ca', alert: proneAlert }),
    );
    await waitFor(() => r.requests.length === 1);
    const body = r.requests[0]!.body as { msgtype: string; markdown: { content: string } };
    expect(r.requests[0]!.url).toBe('/hook?key=abc');
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.content).toContain('<font color="warning">[严重] 趴睡 · 新警报</font>');
    expect(body.markdown.content).toContain('1 号睡眠室 INF-A1 趴睡已 35 秒');
    expect(body.markdown.content).not.toContain('王小明');

    const named = await receiver();
    channel({ name: 'wecom-named', url: named.url, format: 'wecom', includeNames: true }).deliver(
      sampleTransition({ id: 'wc-2', center: 'ca', alert: proneAlert }),
    );
    await waitFor(() => named.requests.length === 1);
    expect(JSON.stringify(named.requests[0]!.body)).toContain('王小明');
  });

  it('sends the DingTalk robot markdown message, signed when a secret is set, @all for a new critical', async () => {
    const r = await receiver();
    channel({
      name: 'ding',
      url: `${r.url}?access_token=t0k`,
      format: 'dingtalk',
      secret: 'SECabc',
      locale: 'en',
    }).deliver(sampleTransition({ id: 'dt-1', center: 'ca', alert: proneAlert }));
    await waitFor(() => r.requests.length === 1);
    const request = r.requests[0]!;
    const body = request.body as {
      msgtype: string;
      markdown: { title: string; text: string };
      at: { isAtAll: boolean };
    };
    expect(body.markdown.title).toBe('[Critical] Prone sleep · New alert');
    expect(body.markdown.text).toContain('Infant INF-A1 in Nap room 1 has been prone for 35 s');
    expect(body.at.isAtAll).toBe(true);
    const url = new URL(request.url, 'http://x');
    expect(url.searchParams.get('access_token')).toBe('t0k');
    const timestamp = url.searchParams.get('timestamp')!;
    const expected = createHmac('sha256', 'SECabc').update(`${timestamp}\nSECabc`).digest('base64');
    expect(url.searchParams.get('sign')).toBe(expected);
  });

  it('sends the generic JSON body with the whole alert', async () => {
    const r = await receiver();
    const t = sampleTransition({ id: 'js-1', center: 'ca', alert: proneAlert });
    channel({ name: 'json', url: r.url, headers: { 'x-api-key': 'k1' } }).deliver(t);
    await waitFor(() => r.requests.length === 1);
    expect(r.requests[0]!.headers['x-api-key']).toBe('k1');
    expect(r.requests[0]!.body).toMatchObject({
      kind: 'raised',
      seq: t.seq,
      alert: { id: 'js-1', value: 35 },
    });
  });

  it('retries 5xx and robot errcodes with backoff, but not a 4xx', async () => {
    const r = await receiver();
    let calls = 0;
    r.respond((_req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(503).end();
      else if (calls === 2) res.writeHead(200).end('{"errcode":45009,"errmsg":"api freq out of limit"}');
      else res.writeHead(200).end('{"errcode":0,"errmsg":"ok"}');
    });
    channel({ name: 'retry', url: r.url, format: 'dingtalk' }).deliver(sampleTransition({ center: 'ca' }));
    await waitFor(() => calls === 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toBe(3);

    const bad = await receiver();
    bad.respond((_req, res) => {
      res.writeHead(400).end('bad key');
    });
    channel({ name: 'four-hundred', url: bad.url }).deliver(sampleTransition({ center: 'ca' }));
    await waitFor(() => bad.requests.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bad.requests).toHaveLength(1);
  });

  it('a slow endpoint never delays another', async () => {
    // The slow endpoint answers only when the test lets it: fast must have everything before then.
    const slow = await receiver();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    slow.respond(async (_req, res) => {
      await gate;
      res.writeHead(200).end();
    });
    const fast = await receiver();
    const slowChannel = channel({ name: 'slow', url: slow.url, timeoutMs: 10_000 });
    const fastChannel = channel({ name: 'fast', url: fast.url });
    for (let i = 0; i < 5; i++) {
      const t = sampleTransition({ center: 'ca' });
      slowChannel.deliver(t);
      fastChannel.deliver(t);
    }
    // The slow endpoint answers nothing until the fast one has had all five.
    await waitFor(() => fast.requests.length === 5, { what: 'five at the fast endpoint' });
    expect(slow.requests.length).toBeLessThanOrEqual(1);
    release();
    await waitFor(() => slow.requests.length === 5, { what: 'five at the slow endpoint once it answers' });
  });

  it('bounds its queue by giving up the oldest waiting transitions, counted', async () => {
    const r = await receiver();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    r.respond(async (_req, res) => {
      await gate;
      res.writeHead(200).end();
    });
    const dropped = async () =>
      (await webhookMetrics.transitions.get()).values.find(
        (v) => v.labels.webhook === 'bounded' && v.labels.outcome === 'dropped',
      )?.value ?? 0;
    const c = channel({ name: 'bounded', url: r.url, queueSize: 3 });
    const sent = Array.from({ length: 6 }, () => sampleTransition({ center: 'ca' }));
    for (const t of sent) c.deliver(t);
    release();
    await waitFor(() => r.requests.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The first was in flight (it counts towards the 3); of the five behind it only the newest two were kept.
    const ids = r.requests.map((q) => (q.body as { alert: { id: string } }).alert.id);
    expect(ids).toEqual([sent[0], sent[4], sent[5]].map((t) => t!.alert.id));
    expect(await dropped()).toBe(3);
  });

  it('filters by centre, severity and audience', async () => {
    const r = await receiver();
    const c = channel({
      name: 'filtered',
      url: r.url,
      centers: ['ca'],
      minSeverity: 'warning',
      audience: 'supervisors',
    });
    c.deliver(sampleTransition({ center: 'cb', kind: 'escalated' }));
    c.deliver(sampleTransition({ center: 'ca', kind: 'raised' }));
    c.deliver(sampleTransition({ center: 'ca', kind: 'escalated', alert: { severity: 'info' } }));
    const wanted = sampleTransition({ center: 'ca', kind: 'escalated' });
    c.deliver(wanted);
    await waitFor(() => r.requests.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.requests.map((q) => (q.body as { alert: { id: string } }).alert.id)).toEqual([wanted.alert.id]);
  });
});

describe('InfluxDB alert history (real InfluxDB)', () => {
  it('writes every transition with the data model tags and fields and no infant name', async () => {
    const conn = await freshInflux();
    const config = channelsConfigSchema.parse({ mqtt: { enabled: false }, history: { locale: 'zh-CN' } });
    const [history] = createChannels(config, {
      mqtt: undefined as never,
      influx: conn,
      fleet: () => testFleet,
      log: silentLogger,
    });
    history!.deliver(sampleTransition({ id: 'hist-1', center: 'ca', alert: proneAlert }));
    history!.deliver(
      sampleTransition({
        id: 'hist-1',
        center: 'ca',
        kind: 'acknowledged',
        alert: { ...proneAlert, raisedAt: 1_790_000_000_000, acknowledgedAt: 1_790_000_042_000 },
      }),
    );
    await history!.close();
    const rows = await influxRows(conn, 'SELECT * FROM "alert" ORDER BY time');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      center: 'ca',
      room: 'ca-r1',
      rule: 'prone-sleep',
      severity: 'critical',
      alert_id: 'hist-1',
      state: 'raised',
      subject: 'infant:inf-a1',
      value: 35,
      message: '1 号睡眠室 婴儿趴睡已 35 秒',
    });
    expect(rows[1]).toMatchObject({ state: 'acknowledged', by: 'Ms Li', ack_ms: 42_000 });
    expect(rows[0]!.ack_ms).toBeNull();
    expect(JSON.stringify(rows)).not.toContain('王小明');
  });
});

describe('channels config', () => {
  it('refuses a bad webhook, naming the field', () => {
    const bad = channelsConfigSchema.safeParse({ webhooks: [{ name: 'x', url: 'not a url' }] });
    expect(bad.error?.issues[0]?.path).toEqual(['webhooks', 0, 'url']);
    const format = channelsConfigSchema.safeParse({
      webhooks: [{ name: 'x', url: 'http://a/', format: 'slack' }],
    });
    expect(format.error?.issues[0]?.path).toEqual(['webhooks', 0, 'format']);
    const dup = channelsConfigSchema.safeParse({
      webhooks: [
        { name: 'x', url: 'http://a/' },
        { name: 'x', url: 'http://b/' },
      ],
    });
    expect(dup.error?.issues[0]).toMatchObject({
      path: ['webhooks', 1, 'name'],
      message: 'duplicate webhook x',
    });
  });

  it('refuses alert history without an InfluxDB connection', () => {
    const config = channelsConfigSchema.parse({ mqtt: { enabled: false } });
    expect(() =>
      createChannels(config, { mqtt: undefined as never, fleet: () => testFleet, log: silentLogger }),
    ).toThrow(/no InfluxDB connection/);
  });
});

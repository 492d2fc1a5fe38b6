import { EventSource } from 'eventsource';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { alertSchema } from '../../protocol/payloads.ts';
import { influxRows } from '../../lib/influx/query.ts';
import { waitFor } from '../../lib/net.ts';
import { STACK_TOKENS, type Stack, startStack } from '../../test/support/stack.ts';
import { type WebhookReceiver, webhookReceiver } from '../../test/support/rules/webhook-receiver.ts';

/**
 * One one-key alarm through the real pipeline (button → our broker → rules service) to every channel:
 * the retained MQTT topic, the SSE stream, a generic and a WeCom webhook, and the InfluxDB history; then
 * acknowledged and resolved over the HTTP API, with each channel following.
 */
describe('alert delivery end to end (real broker, rules service, InfluxDB)', () => {
  let stack: Stack;
  let jsonHook: WebhookReceiver;
  let wecomHook: WebhookReceiver;
  let observer: MqttClient;
  let source: EventSource;
  const retained = new Map<string, string>();
  const streamed: AlertTransition[] = [];

  beforeAll(async () => {
    [jsonHook, wecomHook] = await Promise.all([webhookReceiver(), webhookReceiver()]);
    stack = await startStack({
      channels: {
        webhooks: [
          { name: 'generic', url: jsonHook.url, minSeverity: 'critical' },
          { name: 'wecom', url: wecomHook.url, format: 'wecom', minSeverity: 'critical' },
        ],
      },
    });
    observer = await stack.observer();
    observer.on('message', (topic, payload) => retained.set(topic, payload.toString()));
    await observer.subscribeAsync('cw/v1/ca/alerts/+', { qos: 1 });
    source = new EventSource(`${stack.rules.url}/api/alerts/stream?token=${STACK_TOKENS.a}`);
    source.addEventListener('alert', (e) => streamed.push(JSON.parse(e.data)));
    await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }));
  });
  afterAll(async () => {
    source?.close();
    await observer?.endAsync(true);
    await stack?.close();
    await Promise.all([jsonHook?.close(), wecomHook?.close()]);
  });

  const api = (path: string, token: string, method = 'GET') =>
    fetch(`${stack.rules.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });

  it('delivers, acknowledges and resolves a one-key alarm on every channel', async () => {
    const pressed = await stack.pressAlarm();
    // Latency is bench/alarm-latency.ts's measure; this test checks what arrives, and only logs how soon.
    await waitFor(() => streamed.some((t) => t.alert.rule === 'one-key-alarm'), {
      timeoutMs: 20_000,
      intervalMs: 2,
      what: 'SSE alarm',
    });
    const sseLatency = Date.now() - pressed;
    const raised = streamed.find((t) => t.alert.rule === 'one-key-alarm')!;
    const id = raised.alert.id;
    const topic = `cw/v1/ca/alerts/${id}`;
    console.info(`one-key alarm press → SSE event: ${sseLatency} ms`);
    expect(raised).toMatchObject({
      kind: 'raised',
      audience: 'caregivers',
      alert: { center: 'ca', severity: 'critical' },
    });

    await waitFor(
      () => retained.has(topic) && jsonHook.requests.length >= 1 && wecomHook.requests.length >= 1,
      {
        what: 'MQTT and webhook deliveries',
      },
    );
    expect(alertSchema.parse(JSON.parse(retained.get(topic)!)).state).toBe('raised');
    expect(jsonHook.requests[0]!.body).toMatchObject({ kind: 'raised', alert: { id } });
    expect((wecomHook.requests[0]!.body as { msgtype: string }).msgtype).toBe('markdown');

    // Centre B's caregiver cannot touch it; centre A's can.
    expect((await api(`/api/alerts/${id}/ack`, STACK_TOKENS.b, 'POST')).status).toBe(404);
    const ack = await api(`/api/alerts/${id}/ack`, STACK_TOKENS.a, 'POST');
    expect(ack.status).toBe(200);
    await waitFor(() => JSON.parse(retained.get(topic) || '{}').state === 'acknowledged', {
      what: 'retained ack',
    });
    expect(JSON.parse(retained.get(topic)!).acknowledgedBy).toBe('李老师');

    expect((await api(`/api/alerts/${id}/resolve`, STACK_TOKENS.a, 'POST')).status).toBe(200);
    await waitFor(() => retained.get(topic) === '', { what: 'retained alert cleared' });
    await waitFor(() => streamed.some((t) => t.alert.id === id && t.kind === 'resolved'), {
      what: 'SSE resolve',
    });
    const kinds = streamed.filter((t) => t.alert.id === id).map((t) => t.kind);
    expect(kinds).toEqual(['raised', 'acknowledged', 'resolved']);

    // A fresh subscriber sees no retained alert once it is resolved.
    const late = await stack.observer();
    const lateSeen: string[] = [];
    late.on('message', (t) => lateSeen.push(t));
    await late.subscribeAsync(topic, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await late.endAsync(true);
    expect(lateSeen).toEqual([]);

    await waitFor(
      async () =>
        (await influxRows(stack.influx, `SELECT "state" FROM "alert" WHERE "alert_id" = '${id}'`)).length ===
        3,
      { what: 'alert history in InfluxDB' },
    );
    const history = await influxRows(
      stack.influx,
      `SELECT * FROM "alert" WHERE "alert_id" = '${id}' ORDER BY time`,
    );
    expect(history.map((r) => r.state)).toEqual(['raised', 'acknowledged', 'resolved']);
    expect(history[0]).toMatchObject({
      center: 'ca',
      room: 'ca-r1',
      rule: 'one-key-alarm',
      severity: 'critical',
    });
    await waitFor(() => jsonHook.requests.length >= 3, { what: 'webhook follows the lifecycle' });
  });

  it('resumes the stream from Last-Event-ID with exactly what came after', async () => {
    const ofAlarm = streamed.filter((t) => t.alert.rule === 'one-key-alarm');
    const first = ofAlarm[0]!;
    const response = await fetch(`${stack.rules.url}/api/alerts/stream`, {
      headers: { authorization: `Bearer ${STACK_TOKENS.a}`, 'last-event-id': String(first.seq) },
    });
    const reader = response.body!.getReader();
    let text = '';
    const want = streamed.filter((t) => t.seq > first.seq).length;
    while ((text.match(/^id: /gm) ?? []).length < want)
      text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual(streamed.filter((t) => t.seq > first.seq).map((t) => t.seq));
  });
});

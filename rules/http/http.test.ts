import { EventSource } from 'eventsource';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../protocol/alerts.ts';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import { type CheckOutcome, type OpsSource, passing } from '../../lib/ops/index.ts';
import { promtoolCheck } from '../../test/support/promtool.ts';
import { channelRegistry } from '../channels/metrics.ts';
import { buildApp, httpConfigSchema, type RunningHttp, startHttp } from './index.ts';
import { MemoryAlerts, MemoryBoard, testFleet } from '../../test/support/rules/memory.ts';

const TOKENS = {
  a: 'caregiver-a-token-0001',
  b: 'caregiver-b-token-0002',
  sup: 'supervisor-token-00003',
};
const config = httpConfigSchema.parse({
  port: 0,
  tokens: [
    { token: TOKENS.a, role: 'caregiver', center: 'ca', name: 'Ms Li' },
    { token: TOKENS.b, role: 'caregiver', center: 'cb', name: 'Ms Brown' },
    { token: TOKENS.sup, role: 'supervisor', name: 'Director Zhao' },
  ],
  sse: { heartbeatMs: 200 },
});
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** What the rules service gives its HTTP server, with an MQTT check a test can fail. */
let mqttCheck: CheckOutcome = passing;
const ops: [OpsSource] = [
  { service: 'rules', registries: [channelRegistry], checks: { mqtt: () => mqttCheck } },
];

describe('http config', () => {
  it('refuses a caregiver token without a centre, naming the field', () => {
    const result = httpConfigSchema.safeParse({
      tokens: [{ token: 'x'.repeat(20), role: 'caregiver', name: 'A' }],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['tokens', 0, 'center']);
  });

  it('refuses short and duplicate tokens and a bad port', () => {
    const short = httpConfigSchema.safeParse({ tokens: [{ token: 'short', role: 'supervisor', name: 'A' }] });
    expect(short.error?.issues[0]?.message).toMatch(/at least 16/);
    const dup = httpConfigSchema.safeParse({
      tokens: [
        { token: 'y'.repeat(20), role: 'supervisor', name: 'A' },
        { token: 'y'.repeat(20), role: 'supervisor', name: 'B' },
      ],
    });
    expect(dup.error?.issues[0]).toMatchObject({ path: ['tokens', 1, 'token'], message: 'duplicate token' });
    expect(httpConfigSchema.safeParse({ port: 70_000 }).error?.issues[0]?.path).toEqual(['port']);
  });
});

describe('alert API (fastify inject)', () => {
  let app: FastifyInstance;
  let alerts: MemoryAlerts;
  let board: MemoryBoard;

  beforeEach(async () => {
    alerts = new MemoryAlerts();
    board = new MemoryBoard(alerts);
    mqttCheck = passing;
    ({ app } = await buildApp(config, { alerts, board, fleet: () => testFleet, log: silentLogger, ops }));
  });
  afterEach(() => app.close());

  it('answers 401 without a token, with an unknown one, or with a malformed header', async () => {
    for (const headers of [{}, auth('nope-nope-nope-nope'), { authorization: 'Basic abc' }]) {
      const res = await app.inject({ method: 'GET', url: '/api/alerts', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('shows a caregiver only the alerts of their own centre, most severe first', async () => {
    alerts.raise('a-warn', 'ca', {
      rule: 'room-hot',
      severity: 'warning',
      subject: { kind: 'room', id: 'ca-r1' },
    });
    alerts.raise('a-crit', 'ca');
    alerts.raise('b-crit', 'cb');
    const res = await app.inject({ method: 'GET', url: '/api/alerts', headers: auth(TOKENS.a) });
    expect(res.statusCode).toBe(200);
    expect(res.json().alerts.map((a: { id: string }) => a.id)).toEqual(['a-crit', 'a-warn']);
    const other = await app.inject({ method: 'GET', url: '/api/alerts?center=cb', headers: auth(TOKENS.a) });
    expect(other.statusCode).toBe(403);
    expect(other.json().message).toMatch(/centre ca, not cb/);
  });

  it("never lets centre A's token acknowledge or resolve centre B's alert", async () => {
    alerts.raise('b-crit', 'cb');
    for (const action of ['ack', 'resolve']) {
      const res = await app.inject({
        method: 'POST',
        url: `/api/alerts/b-crit/${action}`,
        headers: auth(TOKENS.a),
      });
      expect(res.statusCode).toBe(404);
    }
    expect(alerts.get('b-crit')?.state).toBe('raised');
    const own = await app.inject({ method: 'POST', url: '/api/alerts/b-crit/ack', headers: auth(TOKENS.b) });
    expect(own.statusCode).toBe(200);
    expect(own.json().alert).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'Ms Brown' });
  });

  it('resolves a one-key alarm and answers 409 for an alert that clears with its condition', async () => {
    alerts.raise('alarm', 'ca');
    alerts.raise('prone', 'ca', { rule: 'prone-sleep', subject: { kind: 'infant', id: 'inf-a1' } });
    const ok = await app.inject({
      method: 'POST',
      url: '/api/alerts/alarm/resolve',
      headers: auth(TOKENS.a),
    });
    expect(ok.json().alert.state).toBe('resolved');
    const conflict = await app.inject({
      method: 'POST',
      url: '/api/alerts/prone/resolve',
      headers: auth(TOKENS.a),
    });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toEqual({ error: 'conflict', message: 'clears with its condition' });
  });

  it('validates ids, bodies and queries with a clear 400', async () => {
    const badId = await app.inject({
      method: 'POST',
      url: '/api/alerts/NOT_AN_ID/ack',
      headers: auth(TOKENS.a),
    });
    expect(badId.statusCode).toBe(400);
    expect(badId.json().message).toMatch(/params\/id/);
    const badNap = await app.inject({
      method: 'POST',
      url: '/api/rooms/ca-r1/nap',
      headers: auth(TOKENS.a),
      payload: { state: 'paused' },
    });
    expect(badNap.statusCode).toBe(400);
    expect(badNap.json().message).toMatch(/body\/state/);
    const badDay = await app.inject({
      method: 'GET',
      url: '/api/rooms/ca-r1/checks?day=yesterday',
      headers: auth(TOKENS.a),
    });
    expect(badDay.statusCode).toBe(400);
    const unknown = await app.inject({ method: 'GET', url: '/api/nothing', headers: auth(TOKENS.a) });
    expect(unknown.statusCode).toBe(404);
  });

  it('lets a supervisor see every centre but asks which centre for the board', async () => {
    alerts.raise('a1', 'ca');
    alerts.raise('b1', 'cb');
    const all = await app.inject({ method: 'GET', url: '/api/alerts', headers: auth(TOKENS.sup) });
    expect(all.json().alerts).toHaveLength(2);
    const noCenter = await app.inject({ method: 'GET', url: '/api/board', headers: auth(TOKENS.sup) });
    expect(noCenter.statusCode).toBe(400);
    const boardB = await app.inject({
      method: 'GET',
      url: '/api/board?center=cb',
      headers: auth(TOKENS.sup),
    });
    expect(boardB.json().rooms[0]).toMatchObject({ room: 'cb-r1', infants: [{ displayName: 'Lily' }] });
    const unknown = await app.inject({
      method: 'GET',
      url: '/api/board?center=zz',
      headers: auth(TOKENS.sup),
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('starts and ends a nap in the caregiver’s own rooms only', async () => {
    const start = await app.inject({
      method: 'POST',
      url: '/api/rooms/ca-r1/nap',
      headers: auth(TOKENS.a),
      payload: { state: 'started' },
    });
    expect(start.statusCode).toBe(200);
    expect(board.naps.get('ca-r1')).toMatchObject({ state: 'started', by: 'Ms Li' });
    const boardA = await app.inject({ method: 'GET', url: '/api/board', headers: auth(TOKENS.a) });
    expect(boardA.json().rooms[0].napping).toBe(true);
    const foreign = await app.inject({
      method: 'POST',
      url: '/api/rooms/cb-r1/nap',
      headers: auth(TOKENS.a),
      payload: { state: 'started' },
    });
    expect(foreign.statusCode).toBe(404);
    expect(board.naps.has('cb-r1')).toBe(false);
  });

  it('serves the day’s nap checks as JSON and CSV, and confirms a check in person', async () => {
    const at = Date.parse('2026-11-22T05:05:00Z'); // 13:05 in Shanghai
    board.addCheck({
      id: 'chk-1',
      center: 'ca',
      room: 'ca-r1',
      infant: 'inf-a1',
      at,
      posture: 'supine',
      motion: 0.12,
      skinTempC: 36.5,
      openAlerts: 0,
    });
    board.addCheck({ id: 'chk-b', center: 'cb', room: 'cb-r1', infant: 'inf-b1', at, openAlerts: 1 });
    const json = await app.inject({
      method: 'GET',
      url: '/api/rooms/ca-r1/checks?day=2026-11-22',
      headers: auth(TOKENS.a),
    });
    expect(json.json()).toMatchObject({ day: '2026-11-22', records: [{ id: 'chk-1' }] });
    const confirm = await app.inject({
      method: 'POST',
      url: '/api/checks/chk-1/confirm',
      headers: auth(TOKENS.a),
      payload: {},
    });
    expect(confirm.json().record).toMatchObject({ confirmedBy: 'Ms Li' });
    const foreign = await app.inject({
      method: 'POST',
      url: '/api/checks/chk-b/confirm',
      headers: auth(TOKENS.a),
      payload: {},
    });
    expect(foreign.statusCode).toBe(404);
    const csv = await app.inject({
      method: 'GET',
      url: '/api/rooms/ca-r1/checks.csv?day=2026-11-22',
      headers: auth(TOKENS.a),
    });
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="nap-checks-ca-r1-2026-11-22.csv"');
    const lines = csv.body.replace('\ufeff', '').trim().split('\r\n');
    expect(lines[0]).toBe(
      'time,room,infant,name,posture,motion,skin_temp_c,open_alerts,confirmed_by,confirmed_at',
    );
    expect(lines[1]).toMatch(/^2026-11-22 13:05:00,ca-r1,inf-a1,王小明,supine,0.12,36.5,0,Ms Li,2\d{3}-/);
    expect(lines).toHaveLength(2);
  });

  it('answers /healthz 200 while its checks pass and 503 with the reason when one fails', async () => {
    const ok = await app.inject({ method: 'GET', url: '/healthz' });
    expect([ok.statusCode, ok.json()]).toEqual([
      200,
      { status: 'ok', service: 'rules', checks: [{ name: 'mqtt', ok: true }] },
    ]);
    mqttCheck = { ok: false, reason: 'not connected to the broker' };
    const failing = await app.inject({ method: 'GET', url: '/healthz' });
    expect([failing.statusCode, failing.json()]).toEqual([
      503,
      {
        status: 'fail',
        service: 'rules',
        checks: [{ name: 'mqtt', ok: false, reason: 'not connected to the broker' }],
      },
    ]);
  });

  it('serves Prometheus metrics promtool accepts, and the page with its bundled script', async () => {
    await app.inject({ method: 'GET', url: '/api/alerts', headers: auth(TOKENS.a) });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain(
      'cradlewatch_rules_http_requests_total{route="/api/alerts",status="200"} 1',
    );
    expect(metrics.body).toContain('cradlewatch_rules_sse_clients');
    expect(promtoolCheck(metrics.body)).toEqual({ code: 0, output: '' });
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.body).toContain('<script src="/assets/app.js"');
    const js = await app.inject({ method: 'GET', url: '/assets/app.js' });
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body.length).toBeGreaterThan(5_000);
    expect(js.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect((await app.inject({ method: 'GET', url: '/assets/app.css' })).body).toContain('@media print');
  });
});

describe('alert stream (real sockets)', () => {
  let http: RunningHttp;
  let alerts: MemoryAlerts;

  beforeAll(async () => {
    alerts = new MemoryAlerts();
    http = await startHttp(
      { ...config, port: 0 },
      { alerts, board: new MemoryBoard(alerts), fleet: () => testFleet, log: silentLogger, ops },
    );
  });
  afterAll(() => http.close());

  const listen = (token: string, extra = '') => {
    const received: AlertTransition[] = [];
    const source = new EventSource(`${http.url}/api/alerts/stream?token=${token}${extra}`);
    source.addEventListener('alert', (e) => received.push(JSON.parse(e.data)));
    const opened = new Promise<void>((resolve) =>
      source.addEventListener('open', () => resolve(), { once: true }),
    );
    return { source, received, opened };
  };

  it('streams a centre’s transitions to its caregivers only, and every centre to supervisors', async () => {
    const a = listen(TOKENS.a);
    const b = listen(TOKENS.b);
    const sup = listen(TOKENS.sup);
    await Promise.all([a.opened, b.opened, sup.opened]);
    alerts.raise('stream-a', 'ca');
    alerts.raise('stream-b', 'cb');
    await waitFor(() => a.received.length === 1 && b.received.length === 1 && sup.received.length === 2, {
      what: 'events',
    });
    expect(a.received[0]?.alert.id).toBe('stream-a');
    expect(b.received[0]?.alert.id).toBe('stream-b');
    for (const s of [a, b, sup]) s.source.close();
  });

  it('resumes from Last-Event-ID with exactly the missed transitions of the centre', async () => {
    const before = alerts.log.at(-1)?.seq ?? 0;
    alerts.raise('missed-1', 'ca');
    alerts.raise('missed-other', 'cb');
    alerts.acknowledge('missed-1', 'Ms Li');
    const response = await fetch(`${http.url}/api/alerts/stream`, {
      headers: { ...auth(TOKENS.a), 'last-event-id': String(before) },
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    while ((text.match(/event: alert/g) ?? []).length < 2)
      text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([before + 1, before + 3]);
    expect(text).not.toContain('missed-other');
  });

  it('refuses a stream with a bad token or a bad Last-Event-ID', async () => {
    expect((await fetch(`${http.url}/api/alerts/stream?token=wrong-wrong-wrong`)).status).toBe(401);
    const bad = await fetch(`${http.url}/api/alerts/stream`, {
      headers: { ...auth(TOKENS.a), 'last-event-id': 'abc' },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/Last-Event-ID/);
  });
});

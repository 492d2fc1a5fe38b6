import type { OpsSource } from '../../lib/ops/index.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FleetIndex, fleetSchema } from '../../protocol/fleet.ts';
import { REDACT_PATHS } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import type { SseHub } from '../channels/sse.ts';
import { buildApp, httpConfigSchema } from './index.ts';
import { SECURITY_HEADERS } from './security.ts';
import { MemoryAlerts, MemoryBoard, testFleet } from '../../test/support/rules/memory.ts';

/**
 * The attack catalogue over HTTP and SSE (rules/http/README.md "Attacks tried"): each test fails if its
 * attack works. A caregiver token of centre `ca` is the attacker unless said otherwise.
 */
const TOKENS = { a: 'caregiver-a-token-0001', b: 'caregiver-b-token-0002', sup: 'supervisor-token-00003' };
const tokens = [
  { token: TOKENS.a, role: 'caregiver', center: 'ca', name: 'Ms Li' },
  { token: TOKENS.b, role: 'caregiver', center: 'cb', name: 'Ms Brown' },
  { token: TOKENS.sup, role: 'supervisor', name: 'Director Zhao' },
];
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

interface Served {
  app: FastifyInstance;
  hub: SseHub;
  alerts: MemoryAlerts;
  board: MemoryBoard;
  port: number;
  logs: string[];
}

const running: Served[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.app.close()));
});

async function serve(overrides: Record<string, unknown> = {}, fleet = testFleet): Promise<Served> {
  const logs: string[] = [];
  // The production redaction, at the most verbose level, into memory: what an operator's log would hold.
  const log = pino(
    { level: 'trace', redact: { paths: REDACT_PATHS, censor: '***' } },
    { write: (line: string) => void logs.push(line) },
  );
  const alerts = new MemoryAlerts();
  const board = new MemoryBoard(alerts, fleet);
  const config = httpConfigSchema.parse({ port: 0, tokens, ...overrides });
  const ops: [OpsSource] = [{ service: 'rules', registries: [], checks: {} }];
  const { app, hub } = await buildApp(config, { alerts, board, fleet: () => fleet, log, ops });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const served = {
    app,
    hub,
    alerts,
    board,
    port: typeof address === 'object' && address ? address.port : 0,
    logs,
  };
  running.push(served);
  return served;
}

/** A request with the path exactly as written (fetch would normalise `..` away before sending it). */
function raw(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Writes `text` on a bare socket and resolves with the status the server answered (0: none, cut off). */
function statusOf(port: number, text: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.end(text);
  });
}

/** An event-stream reader on a bare socket: counts the `alert` events it has read. */
function streamClient(port: number, path: string, token = TOKENS.a) {
  const socket = connect(port, '127.0.0.1');
  const client = { socket, text: '', alerts: () => (client.text.match(/^event: alert$/gm) ?? []).length };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (client.text += chunk));
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  return client;
}

describe('cross-centre reads and writes with a caregiver token of another centre', () => {
  it('never shows, streams, acknowledges, resolves or confirms anything of centre cb to a centre-ca token', async () => {
    const s = await serve();
    const theirs = s.alerts.raise('b-alarm', 'cb');
    s.alerts.raise('a-alarm', 'ca');
    s.board.addCheck({
      id: 'cb-check',
      center: 'cb',
      room: 'cb-r1',
      infant: 'inf-b1',
      at: Date.now(),
      openAlerts: 0,
    });
    const base = `http://127.0.0.1:${s.port}`;
    const get = (path: string) => fetch(`${base}${path}`, { headers: auth(TOKENS.a) });
    const post = (path: string) => fetch(`${base}${path}`, { method: 'POST', headers: auth(TOKENS.a) });

    const listed = (await (await get('/api/alerts?includeResolved=true')).json()) as {
      alerts: { id: string }[];
    };
    expect(listed.alerts.map((a) => a.id)).toEqual(['a-alarm']);
    expect((await get('/api/alerts?center=cb')).status).toBe(403);
    expect((await get('/api/board?center=cb')).status).toBe(403);
    expect(JSON.stringify(await (await get('/api/board')).json())).not.toContain('cb-r1');
    const me = (await (await get('/api/me')).json()) as { centers: { id: string }[] };
    expect(me.centers.map((c) => c.id)).toEqual(['ca']);
    for (const path of [
      '/api/rooms/cb-r1/checks',
      '/api/rooms/cb-r1/checks.csv',
      '/api/rooms/cb-r1/checks?center=ca',
    ]) {
      expect((await get(path)).status).toBe(404);
    }
    expect((await post(`/api/alerts/${theirs.id}/ack`)).status).toBe(404);
    expect((await post(`/api/alerts/${theirs.id}/resolve`)).status).toBe(404);
    expect((await post('/api/checks/cb-check/confirm')).status).toBe(404);
    expect(
      (
        await fetch(`${base}/api/rooms/cb-r1/nap`, {
          method: 'POST',
          headers: { ...auth(TOKENS.a), 'content-type': 'application/json' },
          body: '{"state":"started"}',
        })
      ).status,
    ).toBe(404);
    expect(s.alerts.get(theirs.id)?.state).toBe('raised');
    expect(s.board.checks[0]?.confirmedBy).toBeUndefined();
    expect(s.board.naps.size).toBe(0);

    // The stream: live, resumed from the start (Last-Event-ID 0, header and query), and naming cb.
    const live = streamClient(s.port, '/api/alerts/stream');
    const resumed = streamClient(s.port, '/api/alerts/stream?lastEventId=0');
    const named = await raw(s.port, '/api/alerts/stream?center=cb', { headers: auth(TOKENS.a) });
    expect(named.status).toBe(403);
    await waitFor(() => s.hub.size === 2, { what: 'two streams' });
    s.alerts.raise('b-second', 'cb');
    s.alerts.raise('a-second', 'ca');
    await waitFor(() => live.alerts() === 1 && resumed.alerts() === 2, { what: 'centre ca events' });
    for (const client of [live, resumed]) {
      expect(client.text).not.toContain('"center":"cb"');
      client.socket.destroy();
    }
  });
});

describe('cross-site requests', () => {
  it('grants no other origin access, acts on no ambient credential, and takes a query token on the stream only', async () => {
    const s = await serve();
    const alert = s.alerts.raise('csrf-target', 'ca');
    const evil = { origin: 'https://evil.example' };
    const preflight = await raw(s.port, `/api/alerts/${alert.id}/ack`, {
      method: 'OPTIONS',
      headers: {
        ...evil,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const read = await raw(s.port, '/api/alerts', { headers: { ...evil, ...auth(TOKENS.a) } });
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
    // A form post from another site carries cookies, never the bearer header.
    const forged = await raw(s.port, `/api/alerts/${alert.id}/ack`, {
      method: 'POST',
      headers: { ...evil, cookie: `token=${TOKENS.a}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });
    expect(forged.status).toBe(401);
    expect((await raw(s.port, `/api/alerts?token=${TOKENS.a}`)).status).toBe(401);
    expect(
      (await raw(s.port, `/api/alerts/${alert.id}/ack?token=${TOKENS.a}`, { method: 'POST' })).status,
    ).toBe(401);
    expect(s.alerts.get(alert.id)?.state).toBe('raised');
  });
});

describe('token leaks', () => {
  it('writes no token to the log or to /metrics, whatever the request does with it', async () => {
    const s = await serve({
      sse: { maxBufferedBytes: 1024, heartbeatMs: 200, stallMs: 500 },
      idleTimeoutMs: 1_000,
    });
    const secret = 'leaky-token-never-configured-42';
    const requests: [string, Record<string, string>][] = [
      [`/api/alerts/stream?token=${TOKENS.a}&lastEventId=bad`, {}],
      [`/api/alerts/stream?token=${secret}`, {}],
      [`/api/alerts?token=${TOKENS.a}`, auth(TOKENS.a)],
      [`/no-such-page?token=${TOKENS.sup}`, {}],
      ['/api/alerts', { authorization: `Bearer ${secret}` }],
      ['/api/alerts', { authorization: `Basic ${secret}` }],
      [`/api/alerts/%ZZ?token=${TOKENS.b}`, auth(TOKENS.b)],
    ];
    for (const [path, headers] of requests) await raw(s.port, path, { headers });
    // A stream that stops reading and is cut off is logged too.
    const slow = streamClient(s.port, `/api/alerts/stream?token=${TOKENS.a}`);
    slow.socket.pause();
    await waitFor(() => s.hub.size === 1, { what: 'the stream' });
    const big = 'x'.repeat(20_000);
    for (let i = 0; i < 200; i++) s.alerts.raise(`flood-${i}`, 'ca', { message: { en: big, 'zh-CN': big } });
    await waitFor(() => s.logs.some((l) => l.includes('too slow')), { what: 'the cut-off logged' });
    slow.socket.destroy();

    const metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
    for (const token of [...Object.values(TOKENS), secret]) {
      expect(s.logs.join('\n')).not.toContain(token);
      expect(metrics).not.toContain(token);
    }
    expect(s.logs.length).toBeGreaterThan(0);
  });

  it('prints no robot key, access token or password with --print-config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-print-config-'));
    try {
      const config = join(dir, 'rules.yaml');
      writeFileSync(
        config,
        stringify({
          mqtt: { url: 'mqtt://rules:pa55word-9@127.0.0.1:1883' },
          fleetFile: join(dir, 'fleet.yaml'),
          journalDir: join(dir, 'journal'),
          http: { tokens },
          channels: {
            history: { enabled: false },
            webhooks: [
              {
                name: 'wc',
                format: 'wecom',
                url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ROBOT-KEY-1',
              },
              {
                name: 'dt',
                format: 'dingtalk',
                url: 'https://oapi.dingtalk.com/robot/send?access_token=DING-TOKEN-2',
                secret: 'SEC-3',
              },
              { name: 'js', url: 'https://example.org/hook', headers: { Authorization: 'Bearer HEADER-4' } },
            ],
          },
        }),
      );
      const printed = spawnSync(
        process.execPath,
        ['bin/cradlewatch.mjs', 'rules', '--config', config, '--print-config'],
        {
          encoding: 'utf8',
        },
      );
      expect(printed.status).toBe(0);
      expect(printed.stdout).toContain('qyapi.weixin.qq.com');
      for (const secret of [
        'pa55word-9',
        'ROBOT-KEY-1',
        'DING-TOKEN-2',
        'SEC-3',
        'HEADER-4',
        ...Object.values(TOKENS),
      ]) {
        expect(printed.stdout + printed.stderr).not.toContain(secret);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends no referrer, so a token in the stream URL does not leave the page in one', async () => {
    const s = await serve();
    const res = await raw(s.port, '/');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });
});

describe('security headers on every response', () => {
  it('sends the strict CSP, nosniff, no-referrer and DENY on pages, API answers, errors and the event stream', async () => {
    const s = await serve();
    const paths: [string, Record<string, string>][] = [
      ['/', {}],
      ['/assets/app.js', {}],
      ['/api/alerts', auth(TOKENS.a)],
      ['/api/alerts', {}],
      ['/nowhere', {}],
      ['/healthz', {}],
    ];
    for (const [path, headers] of paths) {
      const res = await raw(s.port, path, { headers });
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers[name]).toBe(value);
    }
    const stream = streamClient(s.port, '/api/alerts/stream');
    await waitFor(() => stream.text.includes('\r\n\r\n'), { what: 'the stream head' });
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      expect(stream.text.toLowerCase()).toContain(`${name}: ${value.toLowerCase()}`);
    }
    stream.socket.destroy();
    expect((await raw(s.port, '/api/alerts', { headers: auth(TOKENS.a) })).headers['cache-control']).toBe(
      'no-store',
    );
  });
});

describe('XSS through registry names', () => {
  const payload = '<img src=x onerror=alert(1)>';
  const hostile = new FleetIndex(
    fleetSchema.parse({
      centers: [{ id: 'ca', name: `<script>alert(1)</script>`, timezone: 'Asia/Shanghai' }],
      rooms: [{ id: 'ca-r1', center: 'ca', name: payload, nameZh: payload }],
      infants: [{ id: 'inf-a1', center: 'ca', room: 'ca-r1', birthMonth: '2026-03', displayName: payload }],
    }),
  );

  it('never serves a registry name inside HTML: names go out as JSON or as a CSV download only', async () => {
    const s = await serve({}, hostile);
    s.board.addCheck({
      id: 'x1',
      center: 'ca',
      room: 'ca-r1',
      infant: 'inf-a1',
      at: Date.now(),
      openAlerts: 0,
    });
    const day = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const paths = [
      '/',
      '/api/board',
      '/api/me',
      `/api/rooms/ca-r1/checks?day=${day}`,
      `/api/rooms/ca-r1/checks.csv?day=${day}`,
      `/${encodeURIComponent(payload)}`,
      `/api/alerts/${encodeURIComponent(payload)}/ack`,
    ];
    let carried = 0;
    for (const path of paths) {
      const res = await raw(s.port, path, { headers: auth(TOKENS.a) });
      const type = String(res.headers['content-type']);
      if (res.body.includes(payload) || res.body.includes('<script>alert')) {
        carried++;
        expect(type).toMatch(/^(application\/json|text\/csv)/);
        if (type.startsWith('text/csv')) expect(res.headers['content-disposition']).toMatch(/^attachment/);
      }
      if (type.startsWith('text/html')) expect(res.body).not.toContain('onerror');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(carried).toBeGreaterThanOrEqual(3);
  });
});

describe('path traversal on static assets', () => {
  it('serves no file but the page, its script and its stylesheet', async () => {
    const s = await serve();
    const attempts = [
      '/assets/../package.json',
      '/assets/../../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/app.js/../../rules/http/config.ts',
      '/%2e%2e/%2e%2e/etc/passwd',
      '//etc/passwd',
      '/assets/..\\..\\package.json',
      '/assets/app.js%00.png',
      '/rules/web/index.html',
      '/web/main.ts',
    ];
    for (const path of attempts) {
      const res = await raw(s.port, path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.body, path).not.toMatch(/"name": "cradlewatch"|root:x:0|httpConfigSchema|import /);
    }
  });
});

describe('oversized requests', () => {
  it('refuses a large body with 413 before reading it, and oversized headers with 431', async () => {
    const s = await serve();
    const headers = { ...auth(TOKENS.a), 'content-type': 'application/json' };
    // Announced too large: refused from the headers, the body never read.
    const claimed = await raw(s.port, '/api/rooms/ca-r1/nap', {
      method: 'POST',
      headers: { ...headers, 'content-length': String(10 * 1024 ** 3) },
    });
    expect(claimed.status).toBe(413);
    // Sent too large: refused while the body is still coming.
    const body = JSON.stringify({ state: 'started', pad: 'x'.repeat(2 * 1024 * 1024) });
    const head = `POST /api/rooms/ca-r1/nap HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.a}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    expect(await statusOf(s.port, head + body)).toBe(413);
    const fat = `GET /api/alerts HTTP/1.1\r\nHost: x\r\nX-Pad: ${'y'.repeat(64 * 1024)}\r\n\r\n`;
    expect(await statusOf(s.port, fat)).toBe(431);
    const poisoned = await raw(s.port, '/api/rooms/ca-r1/nap', {
      method: 'POST',
      headers,
      body: '{"state":"started","__proto__":{"admin":true}}',
    });
    expect(poisoned.status).toBe(400);
    expect(s.board.naps.size).toBe(0);
  });
});

describe('slow clients', () => {
  /** Opens a request and trickles its body, one byte at a time; resolves when the server closes it. */
  function trickle(port: number, everyMs: number): { closed: Promise<number>; socket: Socket } {
    const socket = connect(port, '127.0.0.1');
    let sent = 0;
    socket.on('error', () => undefined);
    socket.write(
      `POST /api/rooms/ca-r1/nap HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.a}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
    );
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write('{', () => sent++);
    }, everyMs);
    const closed = new Promise<number>((resolve) =>
      socket.on('close', () => {
        clearInterval(timer);
        resolve(sent);
      }),
    );
    return { closed, socket };
  }

  it('closes 50 slow POST bodies (a byte every 500 ms) at the request timeout while others are served', async () => {
    const s = await serve({ requestTimeoutMs: 2_000, headersTimeoutMs: 1_000 });
    const slow = Array.from({ length: 50 }, () => trickle(s.port, 500));
    const healthy = await raw(s.port, '/api/alerts', { headers: auth(TOKENS.a) });
    expect(healthy.status).toBe(200);
    const sent = await Promise.all(slow.map((c) => c.closed));
    expect(sent).toHaveLength(50);
    expect(s.board.naps.size).toBe(0);
    // They were cut off mid-body: none of them finished its 100 bytes.
    expect(Math.max(...sent)).toBeLessThan(100);
  });

  it('closes a client that never finishes its headers (slowloris)', async () => {
    const s = await serve({ requestTimeoutMs: 2_000, headersTimeoutMs: 1_000 });
    const sockets = Array.from({ length: 20 }, () => {
      const socket = connect(s.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('GET /api/alerts HTTP/1.1\r\nHost: x\r\n');
      const timer = setInterval(() => socket.write('X-Slow: 1\r\n'), 300);
      return new Promise<void>((resolve) =>
        socket.on('close', () => {
          clearInterval(timer);
          resolve();
        }),
      );
    });
    await Promise.all(sockets);
    expect(sockets).toHaveLength(20);
  });

  it('refuses a request timeout longer than the configuration allows headers for', () => {
    const bad = httpConfigSchema.safeParse({ requestTimeoutMs: 1_000, headersTimeoutMs: 5_000 });
    expect(bad.error?.issues[0]?.path).toEqual(['headersTimeoutMs']);
    const idle = httpConfigSchema.safeParse({ idleTimeoutMs: 1_000, sse: { heartbeatMs: 15_000 } });
    expect(idle.error?.issues[0]?.path).toEqual(['idleTimeoutMs']);
  });
});

describe('1,000 SSE clients', () => {
  it('limits the streams one token can hold open, without locking out another token', async () => {
    const s = await serve({ sse: { maxClientsPerToken: 5, maxClients: 8 } });
    const held = Array.from({ length: 5 }, () => streamClient(s.port, '/api/alerts/stream'));
    await waitFor(() => s.hub.size === 5, { what: 'five streams of one token' });
    const sixth = await raw(s.port, '/api/alerts/stream', { headers: auth(TOKENS.a) });
    expect(sixth.status).toBe(503);
    const others = Array.from({ length: 3 }, () => streamClient(s.port, '/api/alerts/stream', TOKENS.b));
    await waitFor(() => s.hub.size === 8, { what: 'three streams of another token' });
    expect((await raw(s.port, '/api/alerts/stream', { headers: auth(TOKENS.sup) })).status).toBe(503);
    held[0]!.socket.destroy();
    await waitFor(() => s.hub.size === 7, { what: 'one stream closed' });
    const again = streamClient(s.port, '/api/alerts/stream');
    await waitFor(() => s.hub.size === 8, { what: 'a stream admitted again' });
    for (const c of [...held, ...others, again]) c.socket.destroy();
  });

  it('streams every transition to 1,000 clients while others back up: a burst is caught up, a dead client cut off', async () => {
    const s = await serve({
      sse: { maxBufferedBytes: 64 * 1024, heartbeatMs: 300, stallMs: 3_000, maxClientsPerToken: 1_000 },
    });
    const clients = Array.from({ length: 1_000 }, () => streamClient(s.port, '/api/alerts/stream'));
    await waitFor(() => s.hub.size === 1_000, { what: '1,000 streams', timeoutMs: 30_000 });
    // Two centre-cb clients that stop reading: one for a while (a phone on a slow network), one for good.
    const burst = streamClient(s.port, '/api/alerts/stream', TOKENS.b);
    const dead = streamClient(s.port, '/api/alerts/stream', TOKENS.b);
    await waitFor(() => s.hub.size === 1_002, { what: 'the two cb streams' });
    burst.socket.pause();
    dead.socket.pause();
    const before = process.memoryUsage().rss;
    // 4 MB for centre cb, far past what the kernel buffers for a socket that is not read; 50 events for ca.
    const big = 'x'.repeat(20_000);
    const events = 50;
    for (let i = 0; i < 200; i++) {
      s.alerts.raise(`storm-${i}`, 'cb', { message: { en: big, 'zh-CN': big } });
      if (i % 4 === 0) s.alerts.raise(`crowd-${i}`, 'ca');
    }
    await waitFor(() => clients.every((c) => c.alerts() === events), {
      what: `${events} events at every one of 1,000 clients`,
      timeoutMs: 60_000,
    });
    const grown = process.memoryUsage().rss - before;
    burst.socket.resume();
    await waitFor(() => burst.alerts() === 200, {
      what: 'the backed-up client caught up',
      timeoutMs: 30_000,
    });
    const ids = [...burst.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(200);
    await waitFor(() => s.hub.size === 1_001, { what: 'the dead client cut off', timeoutMs: 30_000 });
    expect(dead.alerts()).toBeLessThan(200);
    console.info(
      `1,000 SSE clients: ${events} events each, a backed-up client caught up with 200 × 20 kB, a dead one cut off; RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB (server and 1,002 clients in one process)`,
    );
    for (const c of [...clients, burst, dead]) c.socket.destroy();
  }, 120_000);
});

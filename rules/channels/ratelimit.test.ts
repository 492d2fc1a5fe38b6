import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertTransition } from '../../protocol/alerts.ts';
import pino from 'pino';
import { type Logger, silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import { testFleet } from '../../test/support/rules/memory.ts';
import { renderAlertText } from '../text/index.ts';
import { sampleTransition } from './channel-contract.ts';
import { digestGroups, nextOutgoing } from './digest.ts';
import { channelRegistry } from './metrics.ts';
import { Outbox } from './outbox.ts';
import {
  type ReceiverLimit,
  type WebhookReceiver,
  webhookReceiver,
  seqsIn,
} from '../../test/support/rules/webhook-receiver.ts';
import { WebhookChannel } from './webhook.ts';
import { type AlertText, webhookSchema } from './webhook-config.ts';

const text: AlertText = (alert, locale, withNames) =>
  renderAlertText(alert, testFleet, { withNames, locale });

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await channelRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string>)[k] === l),
  );
  return value?.value ?? 0;
}

const outcomes = async (webhook: string) =>
  Object.fromEntries(
    await Promise.all(
      ['sent', 'digested', 'failed', 'dropped'].map(async (outcome) => [
        outcome,
        await counter('cradlewatch_rules_webhook_transitions_total', { webhook, outcome }),
      ]),
    ),
  );

/** A centre's worth of open alerts: critical raises, warning and critical reminders, acks and resolves. */
function storm(alerts: number, remindersEach: number): AlertTransition[] {
  const out: AlertTransition[] = [];
  for (let a = 0; a < alerts; a++) {
    const id = `storm-${Math.random().toString(36).slice(2)}-${a}`;
    const severity = a % 3 === 0 ? 'critical' : 'warning';
    const alert = { center: 'ca', severity, rule: 'prone-sleep' } as const;
    out.push(sampleTransition({ id, kind: 'raised', alert }));
    for (let r = 0; r < remindersEach; r++) out.push(sampleTransition({ id, kind: 'renotified', alert }));
  }
  return out;
}

describe('nextOutgoing (what the next webhook request carries)', () => {
  const warning = { center: 'ca', severity: 'warning', rule: 'room-hot' } as const;
  const critical = { center: 'ca', severity: 'critical', rule: 'prone-sleep' } as const;
  const w = sampleTransition({ id: 'w', kind: 'raised', alert: warning });
  const wReminder = sampleTransition({ id: 'w', kind: 'renotified', alert: warning });
  const cReminder = sampleTransition({ id: 'c0', kind: 'renotified', alert: critical });
  const cRaised = sampleTransition({ id: 'c', kind: 'raised', alert: critical });
  const cAcked = sampleTransition({ id: 'c', kind: 'acknowledged', alert: critical });
  const queue = [w, wReminder, cReminder, cRaised, cAcked];

  it('sends the oldest alone while everything fits in the budget', () => {
    expect(nextOutgoing(queue, 5)).toEqual({ type: 'single', transitions: [w] });
  });

  it('sends a critical transition that is not a reminder alone while a request is left for the digest', () => {
    expect(nextOutgoing(queue, 2)).toEqual({ type: 'single', transitions: [cRaised] });
    // An alert's transitions go in order: a warning that became critical sends its raise first.
    const uRaised = sampleTransition({ id: 'u', kind: 'raised', alert: warning });
    const uUpdated = sampleTransition({
      id: 'u',
      kind: 'updated',
      alert: { ...warning, severity: 'critical' },
    });
    expect(nextOutgoing([w, uRaised, wReminder, uUpdated], 2)).toEqual({
      type: 'single',
      transitions: [uRaised],
    });
  });

  it('digests the whole queue when one request is left, critical first in its lines', () => {
    const out = nextOutgoing(queue, 1);
    expect(out).toEqual({ type: 'digest', transitions: queue });
    const groups = digestGroups(out.transitions);
    expect(groups.map((g) => g.alert.id)).toEqual(['c0', 'c', 'w']);
    expect(groups.find((g) => g.alert.id === 'w')?.kinds).toEqual([
      ['raised', 1],
      ['renotified', 1],
    ]);
  });
});

describe('webhooks within their targets’ rate limits (real local receiver enforcing the limit)', () => {
  const receivers: WebhookReceiver[] = [];
  const channels: WebhookChannel[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(channels.splice(0).map((c) => c.close()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const receiver = async (limit: ReceiverLimit) => {
    const r = await webhookReceiver(limit);
    receivers.push(r);
    return r;
  };
  const channel = (config: Record<string, unknown>, outbox?: Outbox, log: Logger = silentLogger) => {
    const c = new WebhookChannel(
      webhookSchema.parse({ backoffMs: 20, maxBackoffMs: 200, closeTimeoutMs: 1_000, ...config }),
      text,
      log,
      outbox,
    );
    channels.push(c);
    return c;
  };

  it('keeps a 20-a-minute target within its limit over 70 s of alerts, sending or digesting every transition', async () => {
    const r = await receiver({ messages: 20, windowMs: 60_000, refuse: 'http' });
    const name = 'twenty-a-minute';
    const c = channel({ name, url: r.url, rateLimit: { messages: 20, windowS: 60 } });
    const given: AlertTransition[] = [];
    const give = (ts: AlertTransition[]) => {
      given.push(...ts);
      for (const t of ts) c.deliver(t);
    };
    // A nap-time storm, then reminders every 5 s for 70 s: far more than 20 messages a minute.
    give(storm(12, 2));
    for (let i = 0; i < 14; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      give(storm(2, 1));
    }
    const seen = () => r.accepted.flatMap((q) => seqsIn(q.body));
    await waitFor(() => new Set(seen()).size === given.length, {
      timeoutMs: 90_000,
      what: 'every transition at the receiver',
    });

    expect(r.overLimit).toBe(0);
    expect(seen().sort((a, b) => a - b)).toEqual(given.map((t) => t.seq).sort((a, b) => a - b));
    // The first storm's critical raises go alone, ahead of the digest of its reminders and warnings.
    const firstStorm = given.slice(0, 36);
    const criticalRaises = firstStorm.filter((t) => t.kind === 'raised' && t.alert.severity === 'critical');
    const firstRequests = r.accepted.slice(0, criticalRaises.length + 1).map((q) => seqsIn(q.body));
    expect(firstRequests.slice(0, -1)).toEqual(criticalRaises.map((t) => [t.seq]));
    expect(firstRequests.at(-1)).toHaveLength(firstStorm.length - criticalRaises.length);
    const digests = r.accepted.filter((q) => (q.body as { kind: string }).kind === 'digest');
    const counted = await outcomes(name);
    console.info(
      `20 a minute: ${given.length} transitions in ${r.accepted.length} requests (${digests.length} digests) over ${((r.accepted.at(-1)!.at - r.accepted[0]!.at) / 1000).toFixed(0)} s; ${r.overLimit} over the limit`,
    );
    expect(counted).toEqual({
      sent: r.accepted.length - digests.length,
      digested: given.length - (r.accepted.length - digests.length),
      failed: 0,
      dropped: 0,
    });
  }, 150_000);

  it('sends a WeCom digest with one line per alert, and retries what the robot refuses as too fast', async () => {
    // The robot allows 2 per 2 s; the webhook is configured for 3, so some requests meet errcode 45009.
    const r = await receiver({ messages: 2, windowMs: 2_000, refuse: 'wecom' });
    const name = 'wecom-digest';
    const c = channel({ name, url: r.url, format: 'wecom', rateLimit: { messages: 3, windowS: 2 } });
    const given = storm(4, 3);
    for (const t of given) c.deliver(t);
    await waitFor(
      async () => {
        const counted = await outcomes(name);
        return counted.sent + counted.digested === given.length;
      },
      { timeoutMs: 30_000, what: 'every transition sent or digested' },
    );
    expect(r.overLimit).toBeGreaterThan(0);
    expect(await counter('cradlewatch_rules_webhook_rate_limited_total', { webhook: name })).toBe(
      r.overLimit,
    );
    const digest = r.accepted
      .map((q) => (q.body as { markdown: { content: string } }).markdown.content)
      .find((content) => content.includes('警报汇总'));
    expect(digest).toBeDefined();
    expect(digest).toMatch(/再次提醒 ×\d/);
    expect(digest).toContain('发送频率已达机器人上限');
    expect((await outcomes(name)).failed).toBe(0);
  });

  it('holds everything through an outage far longer than its attempts, and sends it when the target is back', async () => {
    const r = await receiver({ messages: 5, windowMs: 1_000, refuse: 'wecom' });
    let down = true;
    r.respond((_req, res) => {
      if (down) res.writeHead(503).end();
      else res.writeHead(200).end('{"errcode":0,"errmsg":"ok"}');
    });
    const name = 'outage';
    const c = channel({
      name,
      url: r.url,
      format: 'dingtalk',
      maxAttempts: 2,
      rateLimit: { messages: 5, windowS: 1 },
    });
    const given = storm(4, 2);
    for (const t of given) c.deliver(t);
    // Ten times the attempts a refusal gets: an unreachable or failing target is not a refusal.
    await waitFor(() => r.requests.length >= 20, {
      what: '20 attempts during the outage',
      timeoutMs: 30_000,
    });
    expect(await outcomes(name)).toMatchObject({ sent: 0, digested: 0, failed: 0, dropped: 0 });
    down = false;
    await waitFor(
      async () => {
        const counted = await outcomes(name);
        return counted.sent + counted.digested === given.length;
      },
      { what: 'every transition after the outage', timeoutMs: 30_000 },
    );
    expect(await outcomes(name)).toMatchObject({ failed: 0, dropped: 0 });
    expect(r.overLimit).toBe(0);
  });

  it('counts and logs what a target refuses for good, and drops nothing silently', async () => {
    const r = await receiver({ messages: 100, windowMs: 1_000, refuse: 'wecom' });
    r.respond((_req, res) => {
      res.writeHead(200).end('{"errcode":93000,"errmsg":"invalid webhook url"}');
    });
    const name = 'refused';
    const logs: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
    const c = channel({ name, url: r.url, format: 'wecom', maxAttempts: 2 }, undefined, log);
    const given = storm(3, 0);
    for (const t of given) c.deliver(t);
    await waitFor(async () => (await outcomes(name)).failed === given.length, {
      what: 'three failed transitions counted',
    });
    expect(r.requests).toHaveLength(6);
    expect(await outcomes(name)).toMatchObject({ sent: 0, digested: 0, failed: 3, dropped: 0 });
    const refusals = logs
      .map((line) => JSON.parse(line) as { level: number; msg: string; alerts?: string[] })
      .filter((line) => line.level >= 50 && /refused the request for good/.test(line.msg));
    expect(refusals.flatMap((line) => line.alerts)).toEqual(given.map((t) => t.alert.id));
  });

  it('keeps the budget across a restart: the next process sends no burst', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-outbox-'));
    dirs.push(dir);
    const r = await receiver({ messages: 4, windowMs: 3_000, refuse: 'http' });
    const config = { name: 'restarted', url: r.url, rateLimit: { messages: 4, windowS: 3 } };
    const first = channel(config, Outbox.open(dir, 'webhook-restarted', { keepSendsMs: 3_000 }));
    const given = storm(6, 0);
    for (const t of given.slice(0, 4)) first.deliver(t);
    await waitFor(() => r.accepted.length === 4, { what: 'four sent' });
    await first.close();
    const second = channel(config, Outbox.open(dir, 'webhook-restarted', { keepSendsMs: 3_000 }));
    for (const t of given) second.deliver(t);
    await waitFor(() => new Set(r.accepted.flatMap((q) => seqsIn(q.body))).size === given.length, {
      what: 'all six',
    });
    expect(r.overLimit).toBe(0);
    // The first four were taken by the first process's outbox and are not sent again.
    expect(r.accepted.flatMap((q) => seqsIn(q.body))).toHaveLength(given.length);
  });
});

import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AlertTransition } from '../../protocol/alerts.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { freePort, waitFor } from '../../lib/net.ts';
import { Journal } from '../journal/journal.ts';
import { Outbox } from './outbox.ts';
import {
  api,
  Devices,
  SUPERVISOR_TOKEN,
  spawnRules,
  supervisorTokens,
  workDir,
} from '../../test/support/rules/service.ts';
import { startMosquitto } from '../../test/support/mosquitto.ts';
import { type WebhookReceiver, webhookReceiver, seqsIn } from '../../test/support/rules/webhook-receiver.ts';

const RATE = { messages: 6, windowS: 4 };

/**
 * kill -9 of a real `cradlewatch rules` process with open alerts whose reminders and escalations keep
 * coming, while its webhook target is slow, then down: after the restart the target has every transition
 * the journal holds (0 missing), repeats are bounded by the one request in flight at the kill, the target's
 * rate limit holds across the restart (no burst), and an SSE client that reconnects with Last-Event-ID sees
 * no transition twice.
 */
describe('delivery across a kill -9 of the rules process (outbox)', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let hook: WebhookReceiver;
  let devices: Devices;
  let child: ChildProcess | undefined;
  let dir: string;
  let configFile: string;
  let url: string;
  let slowMs = 0;
  let down = false;

  const start = async () => {
    child = await spawnRules(configFile, url, 'error');
  };

  const kill = async () => {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    hook = await webhookReceiver({ messages: RATE.messages, windowMs: RATE.windowS * 1000, refuse: 'http' });
    hook.respond(async (_req, res) => {
      if (down) return void res.writeHead(503).end();
      await new Promise((resolve) => setTimeout(resolve, slowMs));
      res.writeHead(200).end('{}');
    });
    devices = await Devices.connect(broker.url);
    let fleetFile: string;
    ({ dir, fleetFile } = workDir());
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    configFile = join(dir, 'rules.yaml');
    writeFileSync(
      configFile,
      stringify({
        mqtt: { url: broker.url, clientId: 'rules-outbox' },
        fleetFile,
        journalDir: join(dir, 'journal'),
        http: { port, tokens: supervisorTokens },
        channels: {
          history: { enabled: false },
          webhooks: [
            {
              name: 'hook',
              url: hook.url,
              rateLimit: RATE,
              backoffMs: 100,
              maxBackoffMs: 400,
              timeoutMs: 5_000,
            },
          ],
        },
        rules: {
          defaults: {
            prone: { holdS: 1, clearS: 0.5 },
            monitoringLost: { silenceS: 3600 },
            // Reminders every second and escalation after two: a steady stream of transitions to lose.
            lifecycle: { reminderS: { critical: 1, warning: 1 }, escalateS: { critical: 2, warning: 2 } },
          },
        },
      }),
    );
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await devices?.close();
    await hook?.close();
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no webhook transition, repeats at most the request in flight, bursts nothing and raises nothing twice on SSE', async () => {
    await start();
    const events: AlertTransition[] = [];
    const source = new EventSource(`${url}/api/alerts/stream?token=${SUPERVISOR_TOKEN}`);
    source.addEventListener('alert', (event) => events.push(JSON.parse(event.data) as AlertTransition));
    await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }));

    slowMs = 1_500;
    await devices.press(Date.now());
    await devices.nap('r2', 'started', Date.now());
    for (let i = 0; i < 15; i++) {
      await devices.wearable('w-07', Date.now(), { posture: 'prone', battery: 10 });
      await new Promise((r) => setTimeout(r, 100));
    }
    // Escalations and reminders pile up behind the slow target.
    await waitFor(() => events.some((e) => e.kind === 'escalated') && hook.accepted.length >= 3, {
      what: 'escalations on SSE and webhook requests under way',
      timeoutMs: 20_000,
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const biggestBeforeKill = Math.max(...hook.accepted.map((q) => seqsIn(q.body).length));
    await kill();
    const seenBeforeKill = events.length;
    const outbox = Outbox.open(join(dir, 'journal', 'outbox'), 'webhook-hook');
    const pendingAtKill = outbox.size;
    outbox.close();
    expect(pendingAtKill).toBeGreaterThan(0);

    // Down for a while after the restart, then fast.
    down = true;
    slowMs = 0;
    await start();
    await new Promise((r) => setTimeout(r, 2_000));
    down = false;

    const open = (await api(url, '/api/alerts')).body as { alerts: Alert[] };
    for (const alert of open.alerts) {
      expect((await api(url, `/api/alerts/${alert.id}/ack`, { method: 'POST', body: '{}' })).status).toBe(
        200,
      );
    }
    await waitFor(
      () =>
        events.slice(seenBeforeKill).filter((e) => e.kind === 'acknowledged').length === open.alerts.length,
      { what: 'the acknowledgements on the SSE client, reconnected', timeoutMs: 20_000 },
    );
    // Acknowledged: no more reminders. Wait for the webhook's queue to empty, then stop to read the journal.
    await waitFor(
      async () => {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        return /cradlewatch_rules_webhook_queued\{webhook="hook"\} 0\n/.test(metrics);
      },
      { what: 'the webhook queue empty', timeoutMs: 60_000 },
    );
    const stopped = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGTERM');
    await stopped;
    source.close();

    const { journal, restored } = Journal.open(join(dir, 'journal'));
    journal.close();
    const journalled = restored.recent.map((t) => t.seq);
    // What reached the target: all but the requests it answered 503 while down. The one in flight at the
    // kill arrived, but its answer never reached the process: it is sent again, the bounded repeat.
    const taken = hook.accepted.filter((q) => q.status !== 503);
    const atHook = taken.flatMap((q) => seqsIn(q.body));
    const missing = journalled.filter((seq) => !atHook.includes(seq));
    const duplicates = atHook.length - new Set(atHook).size;
    const kinds = new Set(
      taken.flatMap((q) => {
        const b = q.body as { kind: string; transitions?: AlertTransition[] };
        return b.kind === 'digest' ? b.transitions!.map((t) => t.kind) : [b.kind];
      }),
    );
    expect(missing).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(biggestBeforeKill);
    expect(kinds).toContain('escalated');
    expect(kinds).toContain('renotified');
    expect(hook.overLimit).toBe(0);

    const sseSeqs = events.map((e) => e.seq);
    expect(new Set(sseSeqs).size).toBe(sseSeqs.length);
    const raises = events.filter((e) => e.kind === 'raised').map((e) => e.alert.id);
    expect(new Set(raises).size).toBe(raises.length);
    console.info(
      `outbox restart: ${journalled.length} journalled, ${atHook.length} seqs in ${taken.length} requests at the webhook, ${missing.length} missing, ${duplicates} repeated, ${pendingAtKill} in the outbox at the kill; ${events.length} SSE events, ${raises.length} raises`,
    );
  }, 150_000);
});

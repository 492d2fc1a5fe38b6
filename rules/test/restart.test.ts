import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AlertTransition } from '../../protocol/alerts.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freePort, waitFor } from '../../lib/net.ts';
import { webhookReceiver, type WebhookReceiver } from '../../test/support/rules/webhook-receiver.ts';
import { rulesServiceConfigSchema } from '../config.ts';
import { Journal } from '../journal/journal.ts';
import { startRules } from '../service.ts';
import { Harness, QUIET_MONITORING } from '../../test/support/rules/engine.ts';
import { startMosquitto } from '../../test/support/mosquitto.ts';
import { Devices, api, spawnRules, supervisorTokens, workDir } from '../../test/support/rules/service.ts';

const transitionsAt = (hook: WebhookReceiver) =>
  hook.requests.map((r) => r.body as AlertTransition).map((t) => `${t.seq}:${t.kind}:${t.alert.id}`);

async function openAlerts(url: string): Promise<Alert[]> {
  const body = (await api(url, '/api/alerts')).body as { alerts?: Alert[] } | Alert[];
  return Array.isArray(body) ? body : (body.alerts ?? []);
}

describe('rules service restart (kill -9 of `cradlewatch rules`)', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let hook: WebhookReceiver;
  let devices: Devices;
  let child: ChildProcess | undefined;
  let configFile: string;
  let url: string;

  const start = async () => {
    child = await spawnRules(configFile, url);
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    hook = await webhookReceiver();
    devices = await Devices.connect(broker.url);
    const { dir, fleetFile } = workDir();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    configFile = join(dir, 'rules.yaml');
    writeFileSync(
      configFile,
      stringify({
        mqtt: { url: broker.url, clientId: 'rules-restart' },
        fleetFile,
        journalDir: join(dir, 'journal'),
        http: { port, tokens: supervisorTokens },
        channels: { history: { enabled: false }, webhooks: [{ name: 'hook', url: hook.url, backoffMs: 50 }] },
        rules: {
          defaults: {
            prone: { holdS: 1, clearS: 0.5 },
            monitoringLost: { silenceS: 3600 },
            // No timed notifications: anything the webhook sees after the restart would be a repeat.
            lifecycle: {
              reminderS: { critical: 0, warning: 0 },
              escalateS: { critical: 0, warning: 0 },
              warningToCriticalS: 0,
            },
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
  });

  it('keeps open alerts and acknowledgements, repeats no notification, and carries on', async () => {
    await start();
    await devices.press(Date.now());
    await devices.nap('r2', 'started', Date.now());
    for (let i = 0; i < 15; i++) {
      await devices.wearable('w-07', Date.now(), { posture: 'prone', battery: 10 });
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(async () => (await openAlerts(url)).length === 3, { what: 'three open alerts' });
    const prone = (await openAlerts(url)).find((a) => a.rule === 'prone-sleep')!;
    expect((await api(url, `/api/alerts/${prone.id}/ack`, { method: 'POST', body: '{}' })).status).toBe(200);
    await waitFor(() => transitionsAt(hook).length === 4, { what: '4 webhook deliveries' });
    const before = await openAlerts(url);

    child!.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    await start();

    const after = await openAlerts(url);
    const key = (alerts: Alert[]) => alerts.map((a) => `${a.id}:${a.state}:${a.acknowledgedBy ?? ''}`).sort();
    expect(key(after)).toEqual(key(before));
    expect(after.find((a) => a.id === prone.id)?.acknowledgedBy).toBe('head-teacher');

    // The session kept by the broker redelivers nothing twice, and the journal replays nothing.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(transitionsAt(hook)).toHaveLength(4);

    for (let i = 0; i < 10; i++) {
      await devices.wearable('w-07', Date.now(), { posture: 'supine', battery: 10 });
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => transitionsAt(hook).length === 5, { what: 'the resolve after restart' });
    const all = transitionsAt(hook);
    expect(all[4]).toMatch(new RegExp(`:resolved:${prone.id}$`));
    expect(new Set(all).size).toBe(all.length);
    expect(all.map((t) => Number(t.split(':')[0]))).toEqual([1, 2, 3, 4, 5].map((n) => all.length - 5 + n));
  });

  it('delivers a transition that was journalled but not delivered, exactly once', async () => {
    const { dir, fleetFile } = workDir();
    const journalDir = join(dir, 'journal');
    const { journal } = Journal.open(journalDir);
    const now = Date.now();
    const h = new Harness({ rules: QUIET_MONITORING, start: now });
    const out = h.press(now);
    journal.append(h.engine.drainChanges(), out.transitions);
    journal.close();

    const local = await webhookReceiver();
    const config = rulesServiceConfigSchema.parse({
      mqtt: { url: broker.url, clientId: 'rules-undelivered' },
      fleetFile,
      journalDir,
      http: { port: 0, tokens: supervisorTokens },
      channels: { history: { enabled: false }, webhooks: [{ name: 'hook', url: local.url, backoffMs: 50 }] },
      rules: QUIET_MONITORING,
    });
    const first = await startRules(config, silentLogger);
    await waitFor(() => local.requests.length === 1, { what: 'the undelivered transition' });
    await first.close();
    const second = await startRules(config, silentLogger);
    await new Promise((r) => setTimeout(r, 500));
    await second.close();
    await local.close();
    expect(transitionsAt(local)).toEqual([`1:raised:${out.transitions[0]!.alert.id}`]);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import mqtt, { type MqttClient } from 'mqtt';
import type { AlertTransition } from '../../../protocol/alerts.ts';
import { topics } from '../../../protocol/topics.ts';
import type { WearableReading } from '../../../protocol/payloads.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { testTempDir } from '../temp.ts';
import { waitFor } from '../../../lib/net.ts';
import { brokerConfigSchema, startBroker } from '../../../broker/index.ts';
import { calm, fleet, fleetDoc } from './engine.ts';

export const SUPERVISOR_TOKEN = 'supervisor-token-0123456789';

/** The project's own broker (Aedes), anonymous for the test devices, with the test registry. */
export async function startProjectBroker(
  limits: Record<string, unknown> = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const config = brokerConfigSchema.parse({ port: 0, allowAnonymous: true, ...limits });
  const broker = await startBroker(config, silentLogger, { fleet });
  return { url: broker.mqttUrl, close: () => broker.close() };
}

export function workDir(): { dir: string; fleetFile: string } {
  const dir = testTempDir('cw-rules-');
  const fleetFile = join(dir, 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify(fleetDoc));
  return { dir, fleetFile };
}

/** A device side: publishes protocol payloads as the wearables, the button and the caregiver app would. */
export class Devices {
  #seq = 0;
  private constructor(readonly client: MqttClient) {}

  static async connect(url: string): Promise<Devices> {
    return new Devices(
      await mqtt.connectAsync(url, { clientId: `sim-${Math.random().toString(36).slice(2)}` }),
    );
  }

  wearable(device: string, ts: number, fields: Partial<WearableReading> = {}) {
    const body = { v: 1, ...calm, ...fields, ts, seq: this.#seq++ };
    return this.client.publishAsync(topics.deviceTelemetry('ca', device), JSON.stringify(body), { qos: 1 });
  }

  press(ts: number, device = 'btn-2') {
    const body = { v: 1, ts, seq: this.#seq++, event: 'pressed' };
    return this.client.publishAsync(topics.deviceAlarm('ca', device), JSON.stringify(body), { qos: 1 });
  }

  nap(room: string, state: 'started' | 'ended', ts: number) {
    const body = { v: 1, ts, state, by: 'teacher-li' };
    return this.client.publishAsync(topics.nap('ca', room), JSON.stringify(body), { qos: 1, retain: true });
  }

  close() {
    return this.client.endAsync();
  }
}

/** An SSE client of /api/alerts/stream, as the caregiver page is. */
export function sseClient(baseUrl: string, token = SUPERVISOR_TOKEN) {
  const events: (AlertTransition & { receivedAt: number })[] = [];
  const source = new EventSource(`${baseUrl}/api/alerts/stream?token=${token}`);
  source.addEventListener('alert', (event) => {
    events.push({ ...(JSON.parse(event.data) as AlertTransition), receivedAt: performance.now() });
  });
  const opened = new Promise<void>((resolve, reject) => {
    source.addEventListener('open', () => resolve(), { once: true });
    source.addEventListener('error', (e) => reject(new Error(`SSE failed: ${e.message}`)), { once: true });
  });
  return { events, opened, close: () => source.close() };
}

export async function api(baseUrl: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${baseUrl}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${SUPERVISOR_TOKEN}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

export const supervisorTokens = [{ token: SUPERVISOR_TOKEN, role: 'supervisor', name: 'head-teacher' }];

/** `cradlewatch rules --config <file>` as its own process, resolved once its /healthz at `url` answers. */
export async function spawnRules(configFile: string, url: string, logLevel = 'warn'): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/cradlewatch.mjs', 'rules', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, CW_LOG_LEVEL: logLevel },
  });
  await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok === true, {
    what: 'rules /healthz',
    timeoutMs: 30_000,
  });
  return child;
}

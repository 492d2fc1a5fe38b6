import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, waitFor } from '../../lib/net.ts';
import type { Alert } from '../../protocol/payloads.ts';
import { Devices, api, sseClient, supervisorTokens, workDir } from '../support/rules/service.ts';
import { startRedis } from '../support/redis.ts';
import { Service, brokerProcess, stopBrokerStore } from './processes.ts';
import { mqttProxy } from '../support/tcp-proxy.ts';
import { SmallDisk, isRoot } from './tmpfs.ts';

interface Check {
  name: string;
  ok: boolean;
  reason?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `cradlewatch rules` as its own process on `journalDir`, with no timed notifications: each alarm press is
 * exactly one transition on SSE (the raise, then one `renotified` per press).
 */
async function rulesProcess(brokerUrl: string, journalDir: string) {
  const { dir, fleetFile } = workDir();
  const port = await freePort();
  const configFile = join(dir, 'rules.yaml');
  writeFileSync(
    configFile,
    stringify({
      mqtt: { url: brokerUrl, clientId: 'rules-faults' },
      fleetFile,
      journalDir,
      http: { port, tokens: supervisorTokens },
      channels: { history: { enabled: false } },
      rules: {
        defaults: {
          monitoringLost: { silenceS: 3600 },
          lifecycle: {
            reminderS: { critical: 0, warning: 0 },
            escalateS: { critical: 0, warning: 0 },
            warningToCriticalS: 0,
          },
        },
      },
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  /** `healthy: false` waits only for the HTTP server, whatever /healthz says. */
  const start = async (healthy = true) => {
    const rules = new Service(['rules', '--config', configFile]);
    // A process that never became ready must not outlive the test.
    await waitFor(
      async () => {
        if (rules.exitCode !== null) throw new Error(`rules exited ${rules.exitCode}: ${rules.stderr}`);
        const response = await fetch(`${url}/healthz`).catch(() => null);
        return healthy ? response?.ok === true : response !== null;
      },
      { what: `rules /healthz ${healthy ? 'ok' : 'answering'}`, timeoutMs: 30_000 },
    ).catch(async (error: unknown) => {
      await rules.kill9();
      throw error;
    });
    return rules;
  };
  /** Healthy again, or a clear failure the moment the process has exited. */
  const healthy = (rules: Service) =>
    waitFor(
      async () => {
        if (rules.exitCode !== null) throw new Error(`rules exited ${rules.exitCode}: ${rules.stderr}`);
        return (await fetch(`${url}/healthz`)).ok;
      },
      { what: 'rules /healthz ok again', timeoutMs: 30_000 },
    );
  return { url, start, healthy };
}

async function check(url: string, name: string): Promise<{ code: number; check: Check }> {
  const response = await fetch(`${url}/healthz`);
  const body = (await response.json()) as { checks: Check[] };
  return { code: response.status, check: body.checks.find((c) => c.name === name)! };
}

async function openAlerts(url: string): Promise<Alert[]> {
  return ((await api(url, '/api/alerts')).body as { alerts: Alert[] }).alerts;
}

/** The numbers of test/faults/README.md's table, printed by each case. */
function report(name: string, numbers: string): void {
  console.log(`[faults] ${name}: ${numbers}`);
}

describe.skipIf(!isRoot)(
  `rules journal disk faults (#15)${isRoot ? '' : ' [needs root: skipped, not root]'}`,
  { timeout: 120_000 },
  () => {
    let disk: SmallDisk | undefined;
    const services: Service[] = [];
    let devices: Devices | undefined;
    let sse: ReturnType<typeof sseClient> | undefined;

    afterAll(async () => {
      sse?.close();
      await devices?.close();
      for (const s of services.reverse()) await s.stop();
      disk?.remove();
    });

    it('journal disk full: all 12 presses reach SSE, /healthz names the path, the state is durable once the disk is back', async () => {
      disk = new SmallDisk(1024 * 1024);
      const { dir, fleetFile } = workDir();
      const brokerPort = await freePort();
      services.push(await brokerProcess(brokerPort, fleetFile, { home: dir }));
      const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
      const journalDir = join(disk.dir, 'rules');
      const rig = await rulesProcess(brokerUrl, journalDir);
      let rules = await rig.start();
      services.push(rules);
      sse = sseClient(rig.url);
      await sse.opened;
      devices = await Devices.connect(brokerUrl);
      let ts = Date.now();
      await devices.press(ts);
      await waitFor(() => sse!.events.length === 1, { what: 'the first press on SSE' });

      disk.fill(0);
      for (let i = 0; i < 12; i++) await devices.press(++ts);
      await waitFor(() => sse!.events.length === 13, { what: '12 more presses on SSE', timeoutMs: 30_000 });
      expect(sse.events.map((e) => e.kind)).toEqual(['raised', ...Array(12).fill('renotified')]);
      const during = await check(rig.url, 'journal');
      expect(during.code).toBe(503);
      expect(during.check.reason).toMatch(
        new RegExp(`${journalDir}/(journal.jsonl|outbox/mqtt.jsonl) \\(ENOSPC\\): free space on that disk`),
      );
      expect(rules.exitCode).toBeNull();
      // One error line for the outage, however many steps met the full disk.
      const errors = () => rules.lines.filter((l) => l.level >= 50);
      expect(errors()).toHaveLength(1);
      expect(errors()[0]!.msg).toMatch(/ENOSPC/);
      const before = await openAlerts(rig.url);
      expect(before).toHaveLength(1);

      const back = performance.now();
      disk.unfill();
      await waitFor(async () => (await check(rig.url, 'journal')).check.ok, {
        what: 'journal ok again',
        timeoutMs: 30_000,
      });
      const seconds = (performance.now() - back) / 1000;
      expect(errors()).toHaveLength(1);

      // Durable again: a kill -9 now restores the alert as the outage left it, presses included.
      await rules.kill9();
      rules = await rig.start();
      services.push(rules);
      expect(await openAlerts(rig.url)).toEqual(before);
      report(
        'rules journal ENOSPC',
        `12 presses acknowledged by the broker, 12 on SSE, journal durable ${seconds.toFixed(1)} s after the disk was back, ` +
          `open alerts after kill -9 and restart: ${before.length} of ${before.length}, rules alive (1 error line)`,
      );
    });
  },
);

describe('rules across a broker kill -9 (#15.3)', { timeout: 120_000 }, () => {
  const services: Service[] = [];
  /** Where each case's brokers ran: their stores outlive a kill -9. */
  const homes: string[] = [];
  let devices: Devices | undefined;
  let sse: ReturnType<typeof sseClient> | undefined;
  const home = () => {
    const { dir, fleetFile } = workDir();
    homes.push(dir);
    return { dir, fleetFile };
  };

  afterEach(async () => {
    sse?.close();
    await devices?.close();
    for (const s of services.reverse()) await s.kill9();
    for (const dir of homes.splice(0)) await stopBrokerStore(dir);
  });

  it('stays alive, resubscribes, and an alarm pressed after the restart reaches SSE', async () => {
    const { dir, fleetFile } = home();
    const port = await freePort();
    let broker = await brokerProcess(port, fleetFile, { home: dir });
    services.push(broker);
    const brokerUrl = `mqtt://127.0.0.1:${port}`;
    const rig = await rulesProcess(brokerUrl, join(dir, 'journal'));
    const rules = await rig.start();
    services.push(rules);
    sse = sseClient(rig.url);
    await sse.opened;
    devices = await Devices.connect(brokerUrl);
    let ts = Date.now();
    await devices.press(ts);
    await waitFor(() => sse!.events.length === 1, { what: 'a press before the kill' });

    // Twice, the second right after the broker is back: rules is then reconnecting and resubscribing.
    for (const pause of [1_000, 0]) {
      await broker.kill9();
      await waitFor(async () => (await check(rig.url, 'mqtt')).code === 503, { what: 'rules sees the loss' });
      await sleep(pause);
      broker = await brokerProcess(port, fleetFile, { home: dir });
      services.push(broker);
    }
    const back = performance.now();
    await rig.healthy(rules);
    const seconds = (performance.now() - back) / 1000;
    await waitFor(() => devices!.client.connected, { what: 'the button reconnected' });
    await devices.press(++ts);
    await waitFor(() => sse!.events.length === 2, { what: 'the press after the restart on SSE' });
    expect(sse.events.map((e) => e.kind)).toEqual(['raised', 'renotified']);
    expect(rules.exitCode).toBeNull();
    expect(rules.lines.filter((l) => l.level >= 50)).toEqual([]);
    report(
      'rules across broker kill -9 (twice)',
      `2 presses acknowledged, 2 on SSE, subscribed again ${seconds.toFixed(1)} s after the broker was back, rules alive`,
    );
  });

  it('a subscription in flight when the broker dies: no unhandled "Connection closed", subscribed on reconnect', async () => {
    const { dir, fleetFile } = home();
    const port = await freePort();
    let broker = await brokerProcess(port, fleetFile, { home: dir });
    services.push(broker);
    const relay = await mqttProxy(port);
    relay.holdSubscribes = true;
    try {
      const rig = await rulesProcess(`mqtt://127.0.0.1:${relay.port}`, join(dir, 'journal'));
      const rules = await rig.start(false);
      services.push(rules);
      await waitFor(() => relay.held >= 2, { what: 'both sessions subscribing' });
      const waiting = await check(rig.url, 'mqtt');
      expect(waiting.code).toBe(503);
      expect(waiting.check.reason).toMatch(/not subscribed yet/);

      await broker.kill9();
      relay.holdSubscribes = false;
      broker = await brokerProcess(port, fleetFile, { home: dir });
      services.push(broker);
      const back = performance.now();
      await rig.healthy(rules);
      const seconds = (performance.now() - back) / 1000;
      sse = sseClient(rig.url);
      await sse.opened;
      devices = await Devices.connect(`mqtt://127.0.0.1:${port}`);
      await devices.press(Date.now());
      await waitFor(() => sse!.events.length === 1, { what: 'the press on SSE' });
      expect(rules.exitCode).toBeNull();
      report(
        'rules with its SUBSCRIBE in flight at a broker kill -9',
        `1 press acknowledged, 1 on SSE, subscribed ${seconds.toFixed(1)} s after the broker was back, rules alive`,
      );
    } finally {
      await relay.cut();
    }
  });

  it('Redis cluster, kill -9 of broker A then B: rules follows to the survivor each time, and presses reach SSE', async () => {
    const { dir, fleetFile } = workDir();
    const redis = await startRedis();
    try {
      const ports = [await freePort(), await freePort()] as const;
      const node = (port: number) =>
        brokerProcess(port, fleetFile, { home: dir, args: ['--redis', redis.url] });
      const nodes = [await node(ports[0]), await node(ports[1])];
      services.push(...nodes);
      const urls = ports.map((p) => `mqtt://127.0.0.1:${p}`);
      const rig = await rulesProcess(urls.join(','), join(dir, 'journal'));
      const rules = await rig.start();
      services.push(rules);
      sse = sseClient(rig.url);
      await sse.opened;
      let ts = Date.now();
      const pressOn = async (url: string) => {
        const button = await Devices.connect(url);
        await button.press(++ts);
        await button.close();
      };
      const seconds: string[] = [];
      // A dies, then (A back) B dies: each time the rules must be on the other node and subscribed.
      for (const [dead, live] of [
        [0, 1],
        [1, 0],
      ] as const) {
        await nodes[dead]!.kill9();
        const lost = performance.now();
        await waitFor(async () => (await check(rig.url, 'mqtt')).code === 503, {
          what: 'rules sees the loss',
        });
        await rig.healthy(rules);
        seconds.push(((performance.now() - lost) / 1000).toFixed(1));
        const before = sse.events.length;
        await pressOn(urls[live]!);
        await waitFor(() => sse!.events.length === before + 1, { what: `a press on node ${live} on SSE` });
        nodes[dead] = await node(ports[dead]);
        services.push(nodes[dead]!);
      }
      expect(sse.events.map((e) => e.kind)).toEqual(['raised', 'renotified']);
      expect(rules.exitCode).toBeNull();
      expect(rules.lines.filter((l) => l.level >= 50)).toEqual([]);
      report(
        'rules on a Redis cluster, kill -9 of broker A then B',
        `2 presses acknowledged, 2 on SSE, subscribed on the survivor ${seconds.join(' s and ')} s after each kill, rules alive`,
      );
    } finally {
      for (const s of services.splice(0).reverse()) await s.kill9();
      await redis.stop();
    }
  });
});

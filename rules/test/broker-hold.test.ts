import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../lib/net.ts';
import type { AlertTransition } from '../../protocol/alerts.ts';
import type { BrokerHold } from '../../protocol/payloads.ts';
import { topics } from '../../protocol/topics.ts';
import { rulesServiceConfigSchema } from '../config.ts';
import { type RunningRules, startRules } from '../service.ts';
import { startMosquitto } from '../../test/support/mosquitto.ts';
import { Devices, workDir } from '../../test/support/rules/service.ts';

const WEARABLES = ['w-07', 'w-08', 'w-09', 'w-b1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The rules service hears a broker's hold on its priority session. mosquitto carries the messages here and
 * a test client speaks as the broker (our own broker lets no client do that; broker/overload.test.ts shows
 * it announcing its real holds).
 */
describe('a broker holding telemetry, through the rules service', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let rules: RunningRules;
  let devices: Devices;
  const transitions: AlertTransition[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    const { fleetFile, dir } = workDir();
    const config = rulesServiceConfigSchema.parse({
      mqtt: { url: broker.url, clientId: 'rules-hold' },
      fleetFile,
      journalDir: join(dir, 'journal'),
      http: { port: 0 },
      channels: { history: { enabled: false } },
      rules: { defaults: { monitoringLost: { silenceS: 3, groupGatherS: 0.5 } } },
    });
    rules = await startRules(config, silentLogger);
    rules.alerts.subscribe((t) => transitions.push(t));
    devices = await Devices.connect(broker.url);
  });
  afterAll(async () => {
    await devices?.close();
    await rules?.close();
    await broker?.stop();
  });

  it('a centre quiet while the broker says it holds is not called silent; once it reads again, it is', async () => {
    const silent = () =>
      transitions.filter((t) => t.alert.rule.endsWith('-silent') || t.alert.rule === 'monitoring-lost');
    for (let i = 0; i < 8; i++) {
      await Promise.all(WEARABLES.map((w) => devices.wearable(w, Date.now())));
      await sleep(250);
    }
    const announcer = await mqtt.connectAsync(broker.url, { clientId: 'broker-stand-in' });
    const say = (held: boolean) => {
      const hold: BrokerHold = { v: 1, ts: Date.now(), held, backlogBytes: held ? 70_000_000 : 0 };
      return announcer.publishAsync(topics.brokerHold('b-1'), JSON.stringify(hold), { qos: 1 });
    };
    // Held for twice the silence period: nothing arrives, and nothing is raised.
    for (let i = 0; i < 7; i++) {
      await say(true);
      await sleep(1_000);
    }
    expect(silent()).toEqual([]);
    await say(false);
    await announcer.endAsync();
    // Reading again and still nothing from the centre: now it is silent, as one cause.
    await waitFor(() => silent().length > 0, { what: 'centre silent after the hold', timeoutMs: 15_000 });
    expect(silent().map((t) => `${t.kind}:${t.alert.rule}`)).toEqual(['raised:center-silent']);
  });
});

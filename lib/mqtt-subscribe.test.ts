import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerConfigSchema } from '../broker/config.ts';
import { type RunningBroker, startBroker } from '../broker/server.ts';
import { SERVICE_USERS, type TestFleet, credentials, makeTestFleet } from '../test/support/broker.ts';
import { filters, topics } from '../protocol/topics.ts';
import { silentLogger } from './logger.ts';
import { Subscriptions } from './mqtt-subscribe.ts';
import { freePort, waitFor } from './net.ts';

/** Against the project's broker with its ACLs, so a grant and a refusal are the broker's own. */
describe('Subscriptions', () => {
  let fleet: TestFleet;
  let port: number;
  let broker: RunningBroker;
  let client: MqttClient | undefined;
  const start = () =>
    startBroker(brokerConfigSchema.parse({ port, accounts: fleet.accounts }), silentLogger, {
      fleet: fleet.fleet,
    });
  /** A persistent session as the services make it: mqtt.js's own resubscription off. */
  const session = (username: string) =>
    mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      ...credentials(fleet, username),
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 100,
      resubscribe: false,
    });

  beforeAll(async () => {
    fleet = makeTestFleet();
    port = await freePort();
    broker = await start();
  });

  afterEach(async () => {
    await client?.endAsync(true);
  });

  afterAll(async () => {
    await broker.close();
    fleet.remove();
  });

  it('is ready once every filter is granted, and subscribes again on a broker that lost the session', async () => {
    client = session(SERVICE_USERS.rules);
    const subs = new Subscriptions(client, silentLogger);
    const url = `mqtt://127.0.0.1:${port}`;
    await subs.add([filters.alarms('c1'), filters.nap('c1')]);
    expect(subs.ready).toBe(true);
    expect(subs.health(url)).toEqual({ ok: true });

    await broker.close();
    await waitFor(() => !client!.connected, { what: 'the client saw the broker go' });
    expect(subs.health(url)).toEqual({ ok: false, reason: `not connected to the broker at ${url}` });
    broker = await start();
    await waitFor(() => subs.ready, { what: 'subscribed again' });

    const got = new Promise<string>((resolve) => client!.once('message', (topic) => resolve(topic)));
    const rules = await mqtt.connectAsync(
      url,
      credentials(fleet, SERVICE_USERS.rules, `${SERVICE_USERS.rules}-publisher`),
    );
    const nap = topics.nap('c1', fleet.ids.room);
    await rules.publishAsync(nap, JSON.stringify({ v: 1, ts: 1, state: 'started', by: 't' }), { qos: 1 });
    await rules.endAsync();
    expect(await got).toBe(nap);
  });

  it('logs a refused filter as an error naming it, and is not ready', async () => {
    const lines: { level: number; msg: string; filter?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    client = session(SERVICE_USERS.caregiver);
    const subs = new Subscriptions(client, log);
    const url = `mqtt://127.0.0.1:${port}`;
    void subs.add([filters.alerts('c1'), filters.alerts('c2')]);
    await waitFor(() => lines.length > 0, { what: 'the refusal logged' });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'the broker refused a subscription: check the account and its ACL',
        filter: filters.alerts('c2'),
      }),
    ]);
    expect(subs.ready).toBe(false);
    expect(subs.health(url)).toEqual({ ok: false, reason: `connected to ${url} but not subscribed yet` });
  });
});

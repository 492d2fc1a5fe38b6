import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/logger.ts';
import { topics } from '../protocol/topics.ts';
import { OperatorAcl, covers } from './acl-file.ts';
import { brokerConfigSchema } from './config.ts';
import { type RunningBroker, startBroker } from './server.ts';
import {
  SERVICE_USERS,
  type TestFleet,
  collect,
  connect,
  credentials,
  makeTestFleet,
  rawClient,
  connectPacket,
} from '../test/support/broker.ts';

describe('OperatorAcl', () => {
  it('matches filters the way MQTT does, $ topics only by name', () => {
    expect(covers('cw/v1/+/alerts/#', 'cw/v1/c1/alerts/a1/ack')).toBe(true);
    expect(covers('cw/v1/+/alerts/#', 'cw/v1/+/alerts/+')).toBe(true);
    expect(covers('cw/v1/c1/alerts/+', 'cw/v1/+/alerts/+')).toBe(false);
    expect(covers('#', '$SYS/broker')).toBe(false);
    expect(covers('$SYS/#', '$SYS/broker')).toBe(true);
    expect(covers('a/+', 'a/b/c')).toBe(false);
  });

  it('fills %c and %u, lets deny win and allow grant', () => {
    const acl = OperatorAcl.parse(
      [
        '# operator rules',
        'pattern deny cw/v1/+/devices/%c/alarm',
        'user carer',
        'topic read cw/v1/c1/devices/+/status',
      ].join('\n'),
    );
    const device = { username: 'btn-1', clientId: 'btn-1' };
    expect(acl.decide(device, 'cw/v1/c1/devices/btn-1/alarm', 'write', true)).toBe(false);
    expect(acl.decide(device, 'cw/v1/c1/devices/btn-1/status', 'write', true)).toBe(true);
    const carer = { username: 'carer', clientId: 'carer-app' };
    expect(acl.decide(carer, 'cw/v1/c1/devices/+/status', 'read', false)).toBe(true);
    expect(acl.decide(carer, 'cw/v1/c1/devices/+/status', 'write', false)).toBe(false);
    expect(acl.decide({ username: 'other', clientId: 'x' }, 'cw/v1/c1/devices/+/status', 'read', false)).toBe(
      false,
    );
  });

  it('refuses a bad line naming the file and line', () => {
    expect(() => OperatorAcl.parse('user a\ntopic maybe x/y', 'acl.conf')).toThrow(
      'acl.conf line 2: expected "topic [read|write|readwrite|deny] <topic>"',
    );
    expect(() => OperatorAcl.parse('allow x', 'acl.conf')).toThrow(
      'acl.conf line 1: unknown keyword "allow"',
    );
  });
});

describe('the broker with an operator ACL file', () => {
  let fleet: TestFleet;
  let broker: RunningBroker;
  const opened: MqttClient[] = [];

  beforeAll(async () => {
    fleet = makeTestFleet();
    const aclFile = join(fleet.dir, 'acl.conf');
    writeFileSync(
      aclFile,
      [
        `user ${SERVICE_USERS.supervisor}`,
        'topic deny cw/v1/c2/#',
        `user ${SERVICE_USERS.caregiver}`,
        'topic read cw/v1/c1/devices/+/status',
      ].join('\n'),
    );
    broker = await startBroker(
      brokerConfigSchema.parse({ port: 0, accounts: fleet.accounts, aclFile }),
      silentLogger,
      { fleet: fleet.fleet },
    );
  });

  afterAll(async () => {
    for (const client of opened) client.end(true);
    await broker?.close();
    fleet?.remove();
  });

  it("takes away what the registry granted (a supervisor's other centre) message by message", async () => {
    const supervisor = await connect(broker.mqttUrl, credentials(fleet, SERVICE_USERS.supervisor));
    opened.push(supervisor);
    const got = collect(supervisor);
    await supervisor.subscribeAsync('cw/v1/+/alerts/+', { qos: 1 });
    const rules = await connect(broker.mqttUrl, credentials(fleet, SERVICE_USERS.rules));
    opened.push(rules);
    for (let i = 0; i < 5; i += 1) {
      await rules.publishAsync(topics.alert('c2', `x${i}`), 'c2', { qos: 1 });
      await rules.publishAsync(topics.alert('c1', `x${i}`), 'c1', { qos: 1 });
    }
    await got.waitFor(5);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.messages.map((m) => m.payload)).toEqual(['c1', 'c1', 'c1', 'c1', 'c1']);
  });

  it('grants what the registry refused (a caregiver reading device status in its centre)', async () => {
    const carer = await connect(broker.mqttUrl, credentials(fleet, SERVICE_USERS.caregiver));
    opened.push(carer);
    const got = collect(carer);
    await carer.subscribeAsync('cw/v1/c1/devices/+/status', { qos: 1 });
    const device = await connect(broker.mqttUrl, credentials(fleet, fleet.ids.roomSensor));
    opened.push(device);
    await got.waitFor(1);
    expect(got.messages[0]?.topic).toBe(topics.deviceStatus('c1', fleet.ids.roomSensor));
  });
});

describe('an anonymous broker and $ topics', () => {
  it('carries non-$SYS $ topics and refuses a $SYS publish', async () => {
    const broker = await startBroker(
      brokerConfigSchema.parse({ port: 0, allowAnonymous: true }),
      silentLogger,
    );
    try {
      const reader = await connect(broker.mqttUrl, { clientId: 'reader' });
      const got = collect(reader);
      await reader.subscribeAsync('$custom/#', { qos: 1 });
      const writer = await connect(broker.mqttUrl, { clientId: 'writer' });
      await writer.publishAsync('$custom/x', 'hello', { qos: 1 });
      await got.waitFor(1);
      expect(got.messages[0]).toMatchObject({ topic: '$custom/x', payload: 'hello' });
      const raw = await rawClient(broker.mqttUrl);
      raw.send(connectPacket({ clientId: 'sys-writer' }));
      await raw.waitFor('connack');
      raw.send({
        cmd: 'publish',
        topic: '$SYS/forged',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 1,
        retain: false,
        dup: false,
      });
      await raw.closed;
      expect(raw.received.some((p) => p.cmd === 'puback')).toBe(false);
      await Promise.all([reader.endAsync(), writer.endAsync()]);
    } finally {
      await broker.close();
    }
  });
});

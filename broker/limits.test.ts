import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../lib/credentials.ts';
import { FleetIndex } from '../protocol/fleet.ts';
import { Authenticator, FailureThrottle } from './auth.ts';
import { loadBrokerConfig } from './config.ts';
import { GuardedConnection, PacketSizeScanner, TokenBucket } from './packet-guard.ts';

describe('PacketSizeScanner', () => {
  const header = (length: number) => {
    const bytes = [0x30];
    let n = length;
    do {
      bytes.push((n % 128) | (n >= 128 ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    return Buffer.from(bytes);
  };

  it('passes packets up to the limit, header included, across chunk boundaries', () => {
    const scanner = new PacketSizeScanner(1_000);
    const packet = Buffer.concat([header(997), Buffer.alloc(997)]);
    expect(packet.length).toBe(1_000);
    expect(scanner.scan(packet.subarray(0, 2))).toBe(0);
    expect(scanner.scan(Buffer.concat([packet.subarray(2), packet]))).toBe(0);
  });

  it('reports the declared size of the first packet past the limit, before its body arrives', () => {
    const scanner = new PacketSizeScanner(1_000);
    expect(scanner.scan(header(998))).toBe(1_001);
  });

  it('refuses a fifth length byte as malformed', () => {
    expect(new PacketSizeScanner(1_000).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it('reads zero-length packets (PINGREQ) and the next header right after', () => {
    const scanner = new PacketSizeScanner(10);
    expect(scanner.scan(Buffer.from([0xc0, 0x00, 0xc0, 0x00]))).toBe(0);
    expect(scanner.scan(header(20))).toBe(22);
  });
});

describe('GuardedConnection', () => {
  it('destroys the stream and reports an oversized packet without passing its bytes on', async () => {
    const socket = new PassThrough();
    const declared: number[] = [];
    const connection = new GuardedConnection(socket, 100, (n) => declared.push(n));
    const passed: Buffer[] = [];
    connection.on('data', (d: Buffer) => passed.push(d));
    socket.emit('data', Buffer.from([0xc0, 0x00]));
    await new Promise((r) => setImmediate(r));
    socket.emit('data', Buffer.from([0x30, 0x7f]));
    await new Promise((r) => setImmediate(r));
    expect(declared).toEqual([129]);
    expect(connection.destroyed).toBe(true);
    expect(Buffer.concat(passed)).toEqual(Buffer.from([0xc0, 0x00]));
  });
});

describe('TokenBucket', () => {
  it('allows the burst, then the sustained rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(100)).toBe(false);
    expect(bucket.take(10_000)).toBe(true);
  });
});

describe('FailureThrottle', () => {
  it('delays an address past the threshold, growing to 8x, and forgets it after a success or a quiet spell', () => {
    const throttle = new FailureThrottle(2, 100, 1_000);
    throttle.failed('a', 0);
    expect(throttle.delayFor('a', 0)).toBe(0);
    throttle.failed('a', 0);
    expect(throttle.delayFor('a', 0)).toBe(100);
    for (let i = 0; i < 20; i++) throttle.failed('a', 0);
    expect(throttle.delayFor('a', 0)).toBe(800);
    expect(throttle.delayFor('b', 0)).toBe(0);
    expect(throttle.delayFor('a', 2_000)).toBe(0);
    throttle.failed('b', 0);
    throttle.failed('b', 0);
    throttle.succeeded('b');
    expect(throttle.delayFor('b', 0)).toBe(0);
  });
});

describe('Authenticator', () => {
  const fleet = new FleetIndex({
    version: 1,
    centers: [{ id: 'c1', name: 'C1', timezone: 'UTC' }],
    rooms: [{ id: 'r1', center: 'c1', name: 'R1', napSchedule: [] }],
    devices: [
      {
        id: 'w-1',
        kind: 'wearable',
        center: 'c1',
        room: 'r1',
        passwordHash: hashPassword('secret', { N: 1024 }),
      },
      { id: 'w-ble', kind: 'wearable', center: 'c1', room: 'r1' },
    ],
    infants: [],
  });
  const auth = new Authenticator(
    () => fleet,
    [{ username: 'carer', role: 'caregiver', center: 'c1', passwordHash: hashPassword('care', { N: 1024 }) }],
  );

  it('lets a device and a service account in with their principals', async () => {
    expect(await auth.check('w-1', Buffer.from('secret'))).toEqual({
      ok: true,
      principal: { type: 'device', id: 'w-1', center: 'c1', kind: 'wearable' },
    });
    expect(await auth.check('carer', Buffer.from('care'))).toMatchObject({
      ok: true,
      principal: { type: 'service', role: 'caregiver', center: 'c1' },
    });
  });

  it.each([
    ['wrong password', 'w-1', 'nope', 'wrong password'],
    ['unknown user', 'w-x', 'secret', 'unknown user'],
    ['gateway-only wearable', 'w-ble', 'secret', 'device has no credential (gateway only)'],
    ['no password', 'w-1', undefined, 'no username or password'],
    ['a cached password after a change', 'w-1', 'secret2', 'wrong password'],
  ])('refuses %s with CONNACK 4', async (_name, user, password, reason) => {
    expect(await auth.check(user, password === undefined ? undefined : Buffer.from(password))).toEqual({
      ok: false,
      returnCode: 4,
      reason,
    });
  });
});

describe('broker config', () => {
  it('defaults to loopback, 1883/8883, 17 KiB packets and no anonymous access', () => {
    const config = loadBrokerConfig({ env: {} });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 1883, tlsPort: 8883, allowAnonymous: false });
    expect(config.limits.maxPacketBytes).toBe(16 * 1024 + 1024);
  });

  it.each([
    [{ CW_BROKER_PORT: '70000' }, /port \(env CW_BROKER_PORT\)/],
    [{ CW_BROKER_REDIS: 'localhost:6379' }, /redis \(env CW_BROKER_REDIS\): expected redis:\/\/host:port/],
    [{ CW_BROKER_ALLOW_ANONYMOUS: 'maybe' }, /allowAnonymous/],
    [{ CW_BROKER_MAX_CONNECTIONS: '0' }, /limits\.maxConnections/],
  ])('refuses %o naming the field', (env, message) => {
    expect(() => loadBrokerConfig({ env })).toThrow(message);
  });

  it('refuses a caregiver account without a centre', () => {
    expect(() =>
      loadBrokerConfig({
        env: {},
        overrides: {
          accounts: [{ username: 'c', role: 'caregiver', passwordHash: hashPassword('x', { N: 1024 }) }],
        },
      }),
    ).toThrow(/accounts\.0\.center: a caregiver account needs a center/);
  });
});

describe('broker.sample.yaml', () => {
  it('loads as a valid config', () => {
    const config = loadBrokerConfig({
      env: {},
      file: new URL('./broker.sample.yaml', import.meta.url).pathname,
    });
    expect(config.accounts.map((a) => a.role)).toEqual(['ingest', 'rules', 'caregiver', 'supervisor']);
    expect(config.limits.maxPacketBytes).toBe(17_408);
  });
});

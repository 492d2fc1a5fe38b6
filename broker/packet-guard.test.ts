import { once } from 'node:events';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, expect, it } from 'vitest';
import { GuardedConnection } from './packet-guard.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

/** A connected pair of real loopback sockets: the broker's side and the client's. */
async function socketPair(): Promise<{ server: Socket; client: Socket }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  const [server] = (await once(listener, 'connection')) as [Socket];
  cleanup.push(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client };
}

const publish = (qos: 0 | 1, messageId: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'cw/v1/c1/alerts/a1',
    payload: Buffer.from('x'),
    qos,
    messageId,
    retain: false,
    dup: false,
  });

it('writes what was corked as one batch, in order, and counts every PUBLISH by QoS', async () => {
  const { server, client } = await socketPair();
  const out: number[] = [];
  const guard = new GuardedConnection(
    server,
    1024,
    () => {},
    (qos) => out.push(qos),
  );
  const writes: number[] = [];
  const original = server.write.bind(server);
  server.write = ((...args: Parameters<Socket['write']>) => {
    writes.push(server.writableCorked);
    return original(...args);
  }) as Socket['write'];
  const packets = [publish(1, 1), publish(0, 0), publish(1, 2)];
  guard.cork();
  const written = packets.map((p) => new Promise<void>((resolve) => guard.write(p, () => resolve())));
  process.nextTick(() => guard.uncork());
  await Promise.all(written);
  const expected = Buffer.concat(packets);
  let received = Buffer.alloc(0);
  while (received.length < expected.length)
    received = Buffer.concat([received, (await once(client, 'data'))[0]]);
  expect(received.equals(expected)).toBe(true);
  expect(out).toEqual([1, 0, 1]);
  // Every chunk went to the socket while it was corked: one writev, not a syscall per packet.
  expect(writes).toEqual([1, 1, 1]);
});

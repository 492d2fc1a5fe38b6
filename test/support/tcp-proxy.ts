import { type Socket, connect, createServer } from 'node:net';
import { freePort } from '../../lib/net.ts';

export interface TcpProxy {
  port: number;
  /** Drops every connection and stops listening: the peer behind it looks gone (connection refused). */
  cut(): Promise<void>;
}

export interface MqttProxy extends TcpProxy {
  /** While true, SUBSCRIBE packets from clients are swallowed: the broker never sees them, so never answers. */
  holdSubscribes: boolean;
  /** SUBSCRIBE packets swallowed so far. */
  held: number;
}

/** Carries what a client sends on to the server; the server's replies are piped back as they come. */
type Forward = (inbound: Socket, outbound: Socket) => void;
const pipeOn: Forward = (inbound, outbound) => inbound.pipe(outbound);

/**
 * A loopback TCP relay in front of a real server (broker, InfluxDB), so a test can take the peer away from
 * one client without stopping a server other tests share. A client's connection ends with the server's.
 */
export function tcpProxy(targetPort: number): Promise<TcpProxy> {
  return relay(() => [targetPort]);
}

/**
 * A relay in front of a broker that can also swallow SUBSCRIBE packets, so "a subscription in flight when
 * the broker dies" is certain instead of a race.
 */
export async function mqttProxy(targetPort: number): Promise<MqttProxy> {
  const proxy = { holdSubscribes: false, held: 0 };
  const base = await relay(
    () => [targetPort],
    (inbound, outbound) => {
      let pending = Buffer.alloc(0);
      inbound.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const packet = nextPacket(pending);
          if (!packet) return;
          pending = pending.subarray(packet.length);
          // Packet type 8 is SUBSCRIBE.
          if (proxy.holdSubscribes && packet[0]! >> 4 === 8) proxy.held++;
          else outbound.write(packet);
        }
      });
    },
  );
  return Object.assign(proxy, base);
}

/**
 * The one relay every stand-in here is built on. Each client's connection goes to the first of `route()`'s
 * ports that accepts (the client is held until then, and dropped if none does); it ends with the server's.
 */
export async function relay(route: () => number[], forward: Forward = pipeOn): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((inbound) => {
    track(inbound);
    inbound.pause();
    const ports = route();
    let outbound: Socket | undefined;
    inbound.on('close', () => outbound?.destroy());
    const attempt = (tried: number) => {
      if (tried === ports.length || inbound.destroyed) return inbound.destroy();
      const upstream = connect(ports[tried]!, '127.0.0.1');
      outbound = upstream;
      track(upstream);
      let connected = false;
      upstream.on('error', () => {
        if (!connected) attempt(tried + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        upstream.on('close', () => inbound.destroy());
        upstream.pipe(inbound);
        forward(inbound, upstream);
        inbound.resume();
      });
    };
    attempt(0);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    cut: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The first whole MQTT packet of `data` (fixed header byte, remaining length varint, body), if there is one. */
function nextPacket(data: Buffer): Buffer | undefined {
  let length = 0;
  let at = 1;
  for (let shift = 0; ; shift += 7) {
    const byte = data[at++];
    if (byte === undefined) return undefined;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  return data.length >= at + length ? data.subarray(0, at + length) : undefined;
}

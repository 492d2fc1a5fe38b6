import { createServer, connect, type Socket } from 'node:net';
import { freePort } from '../../../lib/net.ts';

export interface TcpProxy {
  port: number;
  /** Drops every connection and stops listening: the peer behind it looks gone (connection refused). */
  cut(): Promise<void>;
}

/**
 * A loopback TCP relay in front of a real server (broker, InfluxDB), so a test can take the peer away from
 * one client without stopping a server other tests share.
 */
export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((inbound) => {
    track(inbound);
    const outbound = connect(targetPort, '127.0.0.1');
    track(outbound);
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
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

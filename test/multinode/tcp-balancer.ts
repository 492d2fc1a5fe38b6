import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * Stands in for the operator's TCP load balancer (HAProxy, nginx stream): each connection goes to a live
 * backend, the next one when a backend refuses. `round-robin` spreads connections (devices over brokers);
 * `first-alive` keeps them on the first backend that answers (to know which front end a page is on).
 */
export async function startTcpBalancer(
  backends: number[],
  policy: 'round-robin' | 'first-alive',
): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const start = policy === 'round-robin' ? next++ % backends.length : 0;
    const attempt = (tried: number) => {
      if (tried === backends.length || client.destroyed) return client.destroy();
      const port = backends[(start + tried) % backends.length]!;
      const upstream = tcpConnect({ host: '127.0.0.1', port });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      let connected = false;
      upstream.on('error', () => {
        if (!connected) attempt(tried + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        client.on('error', () => upstream.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

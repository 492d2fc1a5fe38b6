import { relay } from '../support/tcp-proxy.ts';

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
  const { port, cut } = await relay(() => {
    const start = policy === 'round-robin' ? next++ % backends.length : 0;
    return backends.map((_, i) => backends[(start + i) % backends.length]!);
  });
  return { port, close: cut };
}

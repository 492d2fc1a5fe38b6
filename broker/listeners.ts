import { readFileSync } from 'node:fs';
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Server, createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { BrokerConfig } from './config.ts';

/** A client's byte stream, with the peer's address when the transport knows it. */
export type ClientSocket = Duplex & { remoteAddress?: string; remotePort?: number };

export interface Listeners {
  mqttUrl: string;
  tlsUrl?: string;
  wsUrl?: string;
  /** Stops accepting at once; resolves when every listener has closed (its connections ended). */
  close(): Promise<void>;
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** MQTT over TCP, over TLS when a certificate is given, and over WebSocket at `/mqtt` when a port is. */
export async function openListeners(
  config: Pick<BrokerConfig, 'host' | 'port' | 'tls' | 'tlsPort' | 'wsPort'>,
  accept: (socket: ClientSocket) => void,
): Promise<Listeners> {
  const { host } = config;
  const servers: (Server | HttpServer)[] = [];
  const tcp = createServer({ noDelay: true }, accept);
  servers.push(tcp);
  const listeners: Listeners = {
    mqttUrl: `mqtt://${host}:${await listen(tcp, config.port, host)}`,
    close: async () => {},
  };
  if (config.tls) {
    const tls = createTlsServer(
      { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) },
      accept,
    );
    servers.push(tls);
    listeners.tlsUrl = `mqtts://${host}:${await listen(tls, config.tlsPort, host)}`;
  }
  let wss: WebSocketServer | undefined;
  if (config.wsPort !== undefined) {
    const httpServer = createHttpServer();
    wss = new WebSocketServer({ server: httpServer, path: '/mqtt' });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws) as ClientSocket;
      stream.remoteAddress = req.socket.remoteAddress;
      accept(stream);
    });
    servers.push(httpServer);
    listeners.wsUrl = `ws://${host}:${await listen(httpServer, config.wsPort, host)}/mqtt`;
  }
  listeners.close = () => {
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    wss?.close();
    return Promise.all(closed).then(() => {});
  };
  return listeners;
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { freePort } from '../../../lib/net.ts';

export interface ReceivedRequest {
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** How the next requests are answered; the default is 200 with `{errcode:0}` (what both robots say). */
  respond(handler: (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>): void;
  close(): Promise<void>;
}

/** A stand-in for an outside webhook endpoint (WeCom, DingTalk, a customer's server): a real local HTTP server. */
export async function webhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  let handler: (req: ReceivedRequest, res: ServerResponse) => void | Promise<void> = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
  };
  const server = createServer((req, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(data || 'null'),
        at: Date.now(),
      };
      requests.push(received);
      void handler(received, res);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    respond(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

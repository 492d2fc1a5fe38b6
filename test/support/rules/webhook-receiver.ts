import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AlertTransition } from '../../../protocol/alerts.ts';
import { freePort } from '../../../lib/net.ts';

export interface ReceivedRequest {
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number;
  /** The status answered, once the answer has gone out. */
  status?: number;
}

export interface ReceiverLimit {
  messages: number;
  windowMs: number;
  /** How a request past the limit is answered: as the WeCom robot does (200, errcode 45009) or HTTP 429. */
  refuse: 'wecom' | 'http';
}

export interface WebhookReceiver {
  url: string;
  /** Every request, refused ones included. */
  requests: ReceivedRequest[];
  /** The requests answered by the handler (with a limit: those within it). */
  accepted: ReceivedRequest[];
  /** Requests refused for going over the limit: a sender that keeps the limit never sees one. */
  overLimit: number;
  /** How the next requests are answered; the default is 200 with `{errcode:0}` (what both robots say). */
  respond(handler: (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>): void;
  close(): Promise<void>;
}

/**
 * A stand-in for an outside webhook endpoint (WeCom, DingTalk, a customer's server): a real local HTTP server.
 * With `limit` it enforces a robot's rate limit over a sliding window of arrival times, the strictest way a
 * target can count "20 messages a minute".
 */
export async function webhookReceiver(limit?: ReceiverLimit): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const accepted: ReceivedRequest[] = [];
  let overLimit = 0;
  const overTheLimit = (at: number) =>
    limit !== undefined && accepted.filter((r) => r.at > at - limit.windowMs).length >= limit.messages;
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
      res.on('finish', () => (received.status = res.statusCode));
      if (overTheLimit(received.at)) {
        overLimit++;
        if (limit?.refuse === 'http') res.writeHead(429).end('too many requests');
        else res.writeHead(200).end('{"errcode":45009,"errmsg":"api freq out of limit"}');
        return;
      }
      accepted.push(received);
      void handler(received, res);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    accepted,
    get overLimit() {
      return overLimit;
    },
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

/** The transition seqs a `json` webhook request carried: one transition, or a digest's. */
export function seqsIn(body: unknown): number[] {
  const b = body as { kind: string; seq?: number; transitions?: AlertTransition[] };
  return b.kind === 'digest' ? b.transitions!.map((t) => t.seq) : [b.seq!];
}

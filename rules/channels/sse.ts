import type { ServerResponse } from 'node:http';
import {
  type AlertChannel,
  type AlertTransition,
  formatStreamCursor,
  isAfterCursor,
  type StreamCursor,
} from '../../protocol/alerts.ts';
import type { Logger } from '../../lib/logger.ts';
import { channelMetrics } from './metrics.ts';

interface Client {
  res: ServerResponse;
  /** null: every centre (a supervisor). */
  center: string | null;
  cursor: StreamCursor;
}

export interface SseHubOptions {
  /** A client whose socket has this much unsent data is cut off; it comes back with Last-Event-ID. */
  maxBufferedBytes?: number;
  heartbeatMs?: number;
  closeTimeoutMs?: number;
}

function frame(fields: { id?: number | string; event: string; data: unknown }): string {
  return `${fields.id === undefined ? '' : `id: ${fields.id}\n`}event: ${fields.event}\ndata: ${JSON.stringify(fields.data)}\n\n`;
}

/**
 * Server-sent events to caregiver pages and other HTTP clients. Event ids come from the transitions, never
 * from this process: on a one-centre stream the transition's seq, on an all-centre stream the cursor
 * `centre:seq,…` (protocol/alerts.ts), so a client that reconnects with Last-Event-ID, to this process or
 * to another front end, is first sent what it missed (see `attach`). A client that
 * cannot keep up is disconnected rather than buffered without bound: the reconnect makes it whole.
 */
export class SseHub implements AlertChannel {
  readonly name = 'sse';
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  private readonly maxBufferedBytes: number;
  private readonly closeTimeoutMs: number;

  constructor(
    private readonly log: Logger,
    options: SseHubOptions = {},
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2_000;
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) this.write(client, ': keep-alive\n\n');
    }, options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Takes over `res` as an event stream of one centre (or all) and sends `backlog` (the transitions after
   * the client's Last-Event-ID) before anything live; both happen in one tick, so nothing falls between.
   */
  attach(
    res: ServerResponse,
    center: string | null,
    backlog: AlertTransition[],
    cursor: StreamCursor = { floor: 0, centers: new Map() },
  ): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, center, cursor };
    // A reconnecting EventSource waits `retry` ms; the default 3 s is too slow for an alarm page.
    res.write('retry: 1000\n\n');
    if (this.closed) {
      res.end();
      return;
    }
    this.clients.add(client);
    channelMetrics.sseClients.set(this.clients.size);
    res.on('close', () => {
      this.clients.delete(client);
      channelMetrics.sseClients.set(this.clients.size);
    });
    for (const transition of backlog) this.send(client, transition);
  }

  deliver(transition: AlertTransition): void {
    if (this.closed) return;
    for (const client of this.clients) this.send(client, transition);
  }

  /** A non-alert event (board changed, nap check written) to the clients of one centre; no id, not replayed. */
  broadcast(center: string, event: string, data: unknown): void {
    if (this.closed) return;
    const text = frame({ event, data });
    for (const client of this.clients) {
      if (client.center === null || client.center === center) this.write(client, text);
    }
  }

  private send(client: Client, transition: AlertTransition): void {
    if (client.center !== null && client.center !== transition.alert.center) return;
    if (!isAfterCursor(client.cursor, transition)) return;
    client.cursor.centers.set(transition.alert.center, transition.seq);
    const id = client.center === null ? formatStreamCursor(client.cursor) : transition.seq;
    if (this.write(client, frame({ id, event: 'alert', data: transition }))) {
      channelMetrics.delivered.inc({ channel: this.name });
    }
  }

  private write(client: Client, text: string): boolean {
    const { res } = client;
    if (res.destroyed || res.writableEnded) return false;
    if (res.writableLength > this.maxBufferedBytes) {
      this.log.warn({ buffered: res.writableLength }, 'SSE client too slow: disconnecting it');
      channelMetrics.dropped.inc({ channel: this.name });
      this.clients.delete(client);
      channelMetrics.sseClients.set(this.clients.size);
      res.destroy();
      return false;
    }
    res.write(text);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    const ending = [...this.clients].map(
      ({ res }) =>
        new Promise<void>((resolve) => {
          if (res.destroyed) return resolve();
          const timer = setTimeout(() => {
            res.destroy();
            resolve();
          }, this.closeTimeoutMs);
          res.end(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    this.clients.clear();
    channelMetrics.sseClients.set(0);
    await Promise.all(ending);
  }
}

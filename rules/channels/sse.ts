import type { ServerResponse } from 'node:http';
import {
  type AlertChannel,
  type AlertTransition,
  cursorFloor,
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
  /** Whose stream it is (a hash of the token), for the per-token limit. */
  owner: string;
  /** What has been written to this client, per centre. */
  cursor: StreamCursor;
  /** Since when its socket has held more than `maxBufferedBytes` unsent: nothing more is written until it drains. */
  behindSince?: number;
}

export interface SseHubOptions {
  /**
   * A client whose socket holds this much unsent data is written no more until it drains; then it is sent
   * what it missed from `backlog`. Without a backlog it is cut off at once (it comes back with Last-Event-ID).
   */
  maxBufferedBytes?: number;
  /** A client that has not drained for this long is cut off: it is gone, or too slow to be worth the socket. */
  stallMs?: number;
  heartbeatMs?: number;
  closeTimeoutMs?: number;
  /** Streams held open at most, and per token: a leaked or scripted token cannot exhaust sockets and memory. */
  maxClients?: number;
  maxClientsPerOwner?: number;
  /** The transitions after `afterSeq` still held (the journal's), of one centre or all. */
  backlog?: (afterSeq: number, center: string | null) => AlertTransition[];
}

function frame(fields: { id?: number | string; event: string; data: unknown }): string {
  return `${fields.id === undefined ? '' : `id: ${fields.id}\n`}event: ${fields.event}\ndata: ${JSON.stringify(fields.data)}\n\n`;
}

/**
 * Server-sent events to caregiver pages and other HTTP clients. Event ids come from the transitions, never
 * from this process: on a one-centre stream the transition's seq, on an all-centre stream the cursor
 * `centre:seq,…` (protocol/alerts.ts), so a client that reconnects with Last-Event-ID, to this process or
 * to another front end, is first sent what it missed (see `attach`). A client whose
 * socket backs up is not buffered without bound, and not cut off for one burst (an alert storm writes
 * hundreds of events in one tick to every client): it is written no more until its socket drains, then sent
 * what it missed from the backlog. Only one that stays backed up for `stallMs` is disconnected; the
 * reconnect makes it whole. Writes never wait, so one slow client holds up no other.
 */
export class SseHub implements AlertChannel {
  readonly name = 'sse';
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  private readonly maxBufferedBytes: number;
  private readonly stallMs: number;
  private readonly closeTimeoutMs: number;
  private readonly backlog: SseHubOptions['backlog'];
  private readonly maxClients: number;
  private readonly maxClientsPerOwner: number;
  private readonly owners = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    options: SseHubOptions = {},
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.stallMs = options.stallMs ?? 10_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2_000;
    this.backlog = options.backlog;
    this.maxClients = options.maxClients ?? 5_000;
    this.maxClientsPerOwner = options.maxClientsPerOwner ?? 100;
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      for (const client of this.clients) {
        if (client.behindSince !== undefined && now - client.behindSince >= this.stallMs) this.cut(client);
        else this.write(client, ': keep-alive\n\n');
      }
    }, options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Whether one more stream of `owner` is within the limits; the caller answers 503 if not. */
  admits(owner: string): boolean {
    return this.clients.size < this.maxClients && (this.owners.get(owner) ?? 0) < this.maxClientsPerOwner;
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
    owner = 'anyone',
  ): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, center, cursor, owner };
    // A reconnecting EventSource waits `retry` ms; the default 3 s is too slow for an alarm page.
    res.write('retry: 1000\n\n');
    if (this.closed) {
      res.end();
      return;
    }
    this.clients.add(client);
    this.owners.set(owner, (this.owners.get(owner) ?? 0) + 1);
    channelMetrics.sseClients.set(this.clients.size);
    res.on('close', () => {
      this.clients.delete(client);
      const left = (this.owners.get(owner) ?? 1) - 1;
      if (left > 0) this.owners.set(owner, left);
      else this.owners.delete(owner);
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
    // Behind: the drain sends this from the backlog, in order, after what came before it.
    if (client.behindSince !== undefined) return;
    const next = new Map(client.cursor.centers).set(transition.alert.center, transition.seq);
    const id =
      client.center === null ? formatStreamCursor({ ...client.cursor, centers: next }) : transition.seq;
    if (this.write(client, frame({ id, event: 'alert', data: transition }))) {
      client.cursor.centers = next;
      channelMetrics.delivered.inc({ channel: this.name });
    }
  }

  /** Writes unless the client is behind or gone; false if it was not written. */
  private write(client: Client, text: string): boolean {
    const { res } = client;
    if (res.destroyed || res.writableEnded || client.behindSince !== undefined) return false;
    res.write(text);
    if (res.writableLength > this.maxBufferedBytes) {
      if (!this.backlog) {
        this.cut(client);
        return true;
      }
      client.behindSince = Date.now();
      channelMetrics.sseBehind.inc();
      res.once('drain', () => this.catchUp(client));
    }
    return true;
  }

  private catchUp(client: Client): void {
    client.behindSince = undefined;
    if (this.closed || !this.clients.has(client)) return;
    for (const transition of this.backlog!(cursorFloor(client.cursor), client.center)) {
      this.send(client, transition);
      if (client.behindSince !== undefined) return;
    }
  }

  private cut(client: Client): void {
    this.log.warn({ buffered: client.res.writableLength }, 'SSE client too slow: disconnecting it');
    channelMetrics.dropped.inc({ channel: this.name });
    this.clients.delete(client);
    channelMetrics.sseClients.set(this.clients.size);
    client.res.destroy();
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

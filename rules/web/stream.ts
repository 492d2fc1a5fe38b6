import type { NapCheckRecord } from '../contracts.ts';
import type { AlertTransition, Api } from './api.ts';

export interface StreamHandlers {
  /** The stream is (again) open: whatever happened while it was not is fetched once. */
  open(): void;
  closed(): void;
  transition(transition: AlertTransition): void;
  /** The board changed (a nap started or ended, an alert moved); the event carries no board. */
  board(): void;
  napCheck(record: NapCheckRecord): void;
}

const RECONNECT_MS = 2_000;

/**
 * The alert stream. EventSource reconnects by itself and sends Last-Event-ID, so the server replays the
 * missed transitions; when it gives up (server restarted, stream refused) a new one starts from the last
 * sequence number seen.
 */
export class AlertStream {
  private source: EventSource | undefined;
  private timer: number | undefined;

  constructor(private readonly on: StreamHandlers) {}

  connect(api: Api, lastSeq: () => number | undefined): void {
    this.close();
    const es = api.stream(lastSeq());
    this.source = es;
    es.addEventListener('open', () => this.on.open());
    es.addEventListener('alert', (e) =>
      this.on.transition(JSON.parse((e as MessageEvent<string>).data) as AlertTransition),
    );
    es.addEventListener('board', () => this.on.board());
    es.addEventListener('nap-check', (e) =>
      this.on.napCheck(JSON.parse((e as MessageEvent<string>).data) as NapCheckRecord),
    );
    es.addEventListener('error', () => {
      this.on.closed();
      if (es.readyState !== EventSource.CLOSED || this.source !== es) return;
      this.timer = window.setTimeout(() => this.connect(api, lastSeq), RECONNECT_MS);
    });
  }

  close(): void {
    window.clearTimeout(this.timer);
    this.source?.close();
    this.source = undefined;
  }
}

import type { AlertTransition } from '../../protocol/alerts.ts';
import type { Center } from '../../protocol/fleet.ts';
import type { Alert, Locale } from '../../protocol/payloads.ts';
import type { NapCheckRecord, RoomBoard } from '../contracts.ts';

export interface Me {
  name: string;
  role: 'caregiver' | 'supervisor';
  center: string | null;
  centers: Center[];
  defaultLocale: Locale;
}

export interface BoardResponse {
  center: string;
  serverTime: number;
  rooms: RoomBoard[];
  /** Seconds the rules run behind the devices when the pipeline is late; absent or 0 when it keeps up. */
  delayedS?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the rules service's API with the caregiver's bearer token; errors carry the server's message. */
export class Api {
  constructor(
    readonly token: string,
    private center: string | null = null,
  ) {}

  setCenter(center: string | null): void {
    this.center = center;
  }

  private url(path: string, query: Record<string, string | undefined> = {}): string {
    const params = new URLSearchParams();
    if (this.center) params.set('center', this.center);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    const qs = params.toString();
    return qs ? `${path}?${qs}` : path;
  }

  async raw(
    method: string,
    path: string,
    query: Record<string, string | undefined> = {},
    body?: unknown,
  ): Promise<Response> {
    const response = await fetch(this.url(path, query), {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    if (!response.ok) {
      const detail = (await response.json().catch(() => ({}))) as { message?: string };
      throw new ApiError(response.status, detail.message ?? `HTTP ${response.status}`);
    }
    return response;
  }

  private async json<T>(
    method: string,
    path: string,
    query?: Record<string, string | undefined>,
    body?: unknown,
  ): Promise<T> {
    return (await (await this.raw(method, path, query, body)).json()) as T;
  }

  me = () => this.json<Me>('GET', '/api/me');
  board = () => this.json<BoardResponse>('GET', '/api/board');
  alerts = () => this.json<{ alerts: Alert[] }>('GET', '/api/alerts');
  ack = (id: string) => this.json<{ alert: Alert }>('POST', `/api/alerts/${id}/ack`);
  resolve = (id: string) => this.json<{ alert: Alert }>('POST', `/api/alerts/${id}/resolve`);
  nap = (room: string, state: 'started' | 'ended') =>
    this.json('POST', `/api/rooms/${room}/nap`, {}, { state });
  checks = (room: string, day?: string) =>
    this.json<{ day: string; records: NapCheckRecord[] }>('GET', `/api/rooms/${room}/checks`, { day });
  confirm = (id: string) =>
    this.json<{ record: NapCheckRecord }>('POST', `/api/checks/${encodeURIComponent(id)}/confirm`, {}, {});
  csv = (room: string, day: string) => this.raw('GET', `/api/rooms/${room}/checks.csv`, { day });

  stream(lastSeq: number | undefined): EventSource {
    return new EventSource(
      this.url('/api/alerts/stream', { token: this.token, lastEventId: lastSeq?.toString() }),
    );
  }
}

export type { AlertTransition };
